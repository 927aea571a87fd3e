# The REST API (`hdrtv serve`) and its header probe: no torch, OpenCV or CUDA (see requirements-api.txt).
# Build from the repository root: docker build -f docker/api.Dockerfile -t hdrtv-api:0.1.0 .
# Also runs `hdrtv keys` (API keys) and `hdrtv jobs` (the client) against the same settings.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.18-slim-trixie AS build
COPY --from=uv /uv /usr/local/bin/uv
# No uv.toml from the context; byte-code compiled here because the running image's root is read-only;
# copies, not hard links, since the cache is not part of the venv.
ENV UV_NO_CONFIG=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
# Dependencies before the sources, so editing code reuses this layer. Hashes are checked.
COPY docker/requirements-api.txt docker/build-constraints.txt docker/
RUN uv venv --python /usr/local/bin/python3.11 /opt/venv \
    && uv pip install --python /opt/venv/bin/python --no-cache --require-hashes --no-deps \
        -r docker/requirements-api.txt
COPY pyproject.toml README.md ./
COPY model model
COPY worker worker
COPY service service
RUN uv pip install --python /opt/venv/bin/python --no-cache --no-deps \
        --build-constraints docker/build-constraints.txt .

FROM python:3.11.18-slim-trixie
# The venv's interpreter is this image's /usr/local/bin/python3.11, the one it was built with.
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent hdrtv
USER 10001:10001
EXPOSE 8000
# Liveness only (/healthz): /readyz also needs Redis and the store, which is the orchestrator's business.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('HDRTV_API_PORT', '8000')}/healthz\", timeout=4)"]
ENTRYPOINT ["hdrtv"]
CMD ["serve", "--host", "0.0.0.0"]
