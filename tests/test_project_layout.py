"""Packaging and the one-way dependencies of the design: service -> worker -> model, with the
API on the worker's torch-free `control` package alone."""

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("model", "worker", "service")
WORKER_TOP_LEVEL_FILES = 12
HEAVY = ("torch", "av", "cv2", "scenedetect", "numpy")  # what the API process never loads


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    package = ["hdrtv", *path.relative_to(ROOT).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.update([module] + [f"{module}.{alias.name}" for alias in node.names])
    return names


def _sources(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


def test_dependencies_point_one_way():
    forbidden = {"model": ("hdrtv.worker", "hdrtv.service"), "worker": ("hdrtv.service",)}
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for top, banned in forbidden.items()
        for path in _sources(top)
        for name in _imports(path)
        if name.startswith(banned)
    ]
    assert wrong == []


def test_the_control_package_stands_on_its_own():
    """`worker/control` is the bottom of the worker: it imports no other worker package."""
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("worker/control")
        for name in _imports(path)
        if name.startswith("hdrtv.worker.") and not name.startswith("hdrtv.worker.control")
    ]
    assert wrong == []


def test_the_api_imports_the_control_package_alone():
    """Everything of the service but the command line (which runs conversions itself) reaches the
    worker through `hdrtv.worker.control` only; importing all of it loads nothing heavy."""
    api_files = [path for path in _sources("service") if "commands" not in path.parts]
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in api_files
        for name in _imports(path)
        if name.startswith("hdrtv.worker") and not name.startswith("hdrtv.worker.control")
    ]
    assert wrong == []
    modules = [".".join(["hdrtv", *p.relative_to(ROOT).with_suffix("").parts]) for p in _sources("worker/control")]
    code = (
        f"import importlib, sys; [importlib.import_module(m.removesuffix('.__init__')) for m in {modules!r}]; "
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_worker_shows_its_concerns_as_packages():
    top_level = [path.name for path in (ROOT / "worker").glob("*.py")]
    assert len(top_level) <= WORKER_TOP_LEVEL_FILES, sorted(top_level)


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
