"""Packaging and the one-way dependencies of the design: service -> worker -> model."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("model", "worker", "service")


def test_every_source_package_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "hdrtv." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP_LEVEL
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed


def test_model_imports_nothing_of_video_queues_or_http():
    code = (
        "import sys, hdrtv.model, hdrtv.model.metrics, hdrtv.model.colour; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'av', 'celery', 'redis', 'boto3', 'fastapi', 'uvicorn'} or m.startswith(('hdrtv.worker', 'hdrtv.service')))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
