# The `hdrtv` command line on CPUs: converts and inspects models without a GPU.
# Build from the repository root: docker build -f docker/cli.Dockerfile -t hdrtv-cli .
FROM python:3.11.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# The CPU build of the pinned torch release, from PyTorch's own index (PyPI's is the CUDA build).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /opt/hdrtv
COPY pyproject.toml README.md ./
COPY model ./model
COPY worker ./worker
COPY service ./service
RUN pip install . && useradd --create-home --uid 10001 hdrtv

USER hdrtv
WORKDIR /home/hdrtv
ENTRYPOINT ["hdrtv"]
CMD ["--help"]
