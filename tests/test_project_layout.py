"""Packaging and the one-way dependencies of the design: service -> worker -> model."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
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


def test_the_wheel_carries_the_trained_weights_and_configs(tmp_path):
    """Images install the wheel, not the source tree: without package data `--model dslnet` and
    `hdrtv train --config cpu` would fail there."""
    source = tmp_path / "source"  # a copy: a build/ folder left in the checkout could hide a missing file
    for top in TOP_LEVEL:
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path), str(source)]
    subprocess.run(command, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("hdrtv-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "hdrtv/model/weights/dslnet.pt",
        "hdrtv/model/weights/README.md",
        "hdrtv/model/training/configs/cpu.toml",
    }
    assert expected <= names
