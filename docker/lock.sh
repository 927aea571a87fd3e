#!/usr/bin/env bash
# Regenerates the images' dependency locks from pyproject.toml (uv 0.13.9: `pip install uv==0.13.9`).
# Run from anywhere after changing pyproject's dependencies; commit the three files it writes.
# Targets: CPython 3.11 on x86-64 Linux (both images), packages from PyPI only, every file hashed.
set -euo pipefail
cd "$(dirname "$0")/.."

compile() {
    uv pip compile --no-config --quiet --index-url https://pypi.org/simple \
        --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --generate-hashes --custom-compile-command docker/lock.sh "$@"
}

# API: everything but the converter's libraries (torch, OpenCV, PySceneDetect, OpenEXR).
compile pyproject.toml --override docker/api-overrides.txt -o docker/requirements-api.txt
# Workers and the CLI: all of it, torch being PyPI's CUDA build.
compile pyproject.toml -o docker/requirements-worker.txt
# The build backend that turns the source tree into the installed package (pyproject's [build-system]).
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
    | compile - -o docker/build-constraints.txt
