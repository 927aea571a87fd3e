# The Celery workers (`hdrtv worker`, both the gpu and the cpu queue) and the whole `hdrtv` command line.
# Build from the repository root: docker build -f docker/worker.Dockerfile -t hdrtv-worker:0.1.0 .
#
# CUDA: PyPI's torch 2.13.0 wheel is built for CUDA 13.0 and brings its own CUDA 13.0 libraries as
# pip packages (cuda-toolkit 13.0.3: cudart 13.0.96, cuBLAS, cuDNN 9.20, NCCL), which is what torch
# loads. The base is therefore the CUDA 13.0 `base` flavour (the container toolkit's settings and
# cudart, no second copy of cuBLAS/cuDNN as in `runtime`/`cudnn-runtime`). Hosts need an NVIDIA
# driver >= 580 (CUDA 13.0). Without a GPU the same image converts on the CPU.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM nvidia/cuda:13.0.2-base-ubuntu24.04 AS build
COPY --from=uv /uv /usr/local/bin/uv
# Ubuntu 24.04's Python is 3.12 and the package needs 3.11: a uv-managed CPython (python-build-standalone,
# self-contained) under /opt/python, copied as is into the final stage at the same path.
ENV UV_NO_CONFIG=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON_PREFERENCE=only-managed
RUN uv python install 3.11.18 && uv venv --python 3.11.18 /opt/venv
WORKDIR /src
COPY docker/requirements-worker.txt docker/build-constraints.txt docker/
RUN uv pip install --python /opt/venv/bin/python --no-cache --require-hashes --no-deps \
        -r docker/requirements-worker.txt
COPY pyproject.toml README.md ./
COPY model model
COPY worker worker
COPY service service
RUN uv pip install --python /opt/venv/bin/python --no-cache --no-deps \
        --build-constraints docker/build-constraints.txt .

FROM nvidia/cuda:13.0.2-base-ubuntu24.04
COPY --from=build /opt/python /opt/python
COPY --from=build /opt/venv /opt/venv
# Chunks are decoded, converted and encoded in the scratch folder: mount a volume there (the root is
# read-only in docker-compose.yml). Prometheus' multiprocess files go to /tmp (a tmpfs there).
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HDRTV_SCRATCH_DIR=/scratch
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent hdrtv \
    && install -d -o 10001 -g 10001 /scratch
USER 10001:10001
EXPOSE 9100
# The worker's /metrics answers while its process lives (the default command serves it on 9100).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=4)"]
ENTRYPOINT ["hdrtv"]
CMD ["worker", "--queues", "gpu,cpu", "--metrics-port", "9100", "--metrics-host", "0.0.0.0"]
