"""`hdrtv serve`: the REST API under uvicorn."""

from __future__ import annotations

import argparse

from hdrtv.worker.settings import get_settings


def _serve(args: argparse.Namespace) -> None:
    import uvicorn
    from hdrtv.service.app import create_app

    app = create_app(get_settings())  # refuses default secrets in production before listening
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=True)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    settings = get_settings()
    serve = commands.add_parser("serve", help="run the REST job API (settings from HDRTV_* variables)")
    serve.add_argument("--host", default=settings.api_host, help=f"address to listen on (default {settings.api_host})")
    serve.add_argument("--port", type=int, default=settings.api_port, help=f"TCP port (default {settings.api_port})")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(run=_serve)
