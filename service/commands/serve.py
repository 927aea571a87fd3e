"""`hdrtv serve`: the REST API under uvicorn; with `--embedded`, the API and a worker in one process
with no external services (see `hdrtv.service.embedded`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hdrtv.worker.control.settings import get_settings


def _serve(args: argparse.Namespace) -> None:
    if args.embedded:
        _serve_embedded(args)
        return
    import uvicorn

    from ..app import create_app

    app = create_app(get_settings())  # refuses default secrets in production before listening
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=True)


def _serve_embedded(args: argparse.Namespace) -> None:
    from .. import embedded

    data = Path(args.data_dir).resolve()
    running = embedded.start(data, args.host, args.port, args.log_level)
    body = f'{{"input_uri": "file://{data}/in.mp4", "output_uri": "file://{data}/out.mkv", "model": "bt2408"}}'
    print(f"hdrtv (embedded) listening on {running.url}", flush=True)
    print(f"API key of tenant {embedded.TENANT!r}: {running.key}", flush=True)
    print(
        f"try: curl -X POST {running.url}/v1/jobs -H 'Authorization: Bearer {running.key}'"
        f" -H 'Content-Type: application/json' -d '{body}'",
        flush=True,
    )
    embedded.run_worker(running.settings, args.log_level)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    settings = get_settings()
    serve = commands.add_parser("serve", help="run the REST job API (settings from HDRTV_* variables)")
    serve.add_argument("--host", default=settings.api_host, help=f"address to listen on (default {settings.api_host})")
    serve.add_argument("--port", type=int, default=settings.api_port, help=f"TCP port (default {settings.api_port})")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument(
        "--embedded",
        action="store_true",
        help="also run a worker, with an in-memory Redis and file:// URIs: no external services (jobs are "
        "lost on exit; inputs and outputs may be any paths the process can read and write)",
    )
    serve.add_argument(
        "--data-dir", default="hdrtv-data", help="embedded: folder of the worker's scratch files (default ./hdrtv-data)"
    )
    serve.set_defaults(run=_serve)
