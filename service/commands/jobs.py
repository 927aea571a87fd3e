"""`hdrtv jobs submit|get|list|cancel|wait`: a thin client of the REST API, printing its JSON.

The server and key come from `--server` and `--key`, or the HDRTV_SERVER and HDRTV_API_KEY
environment variables. Any answer but a 2xx ends in one line on stderr and a non-zero exit, as
does `wait` for a job that failed or was cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from hdrtv.worker.control.options import JOB_FIELDS, REQUEST_FIELDS
from hdrtv.worker.control.settings import get_settings

from .option_flags import add_option_flags, chosen

TERMINAL = ("succeeded", "failed", "cancelled")


def _request(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    if not args.key:
        raise ValueError("no API key: pass --key or set HDRTV_API_KEY")
    headers = {"Authorization": f"Bearer {args.key}", **kwargs.pop("headers", {})}
    try:
        response = httpx.request(method, args.server.rstrip("/") + path, headers=headers, timeout=30, **kwargs)
    except httpx.HTTPError as error:
        raise OSError(f"{args.server}: {error}") from None
    if response.is_error:
        try:
            detail = response.json()["detail"]
        except (ValueError, KeyError, TypeError):
            detail = response.text.strip()
        raise ValueError(f"{response.status_code} {response.reason_phrase}: {detail}")
    return response.json()


def _show(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _submit(args: argparse.Namespace) -> None:
    options = chosen(args, REQUEST_FIELDS)
    model = options.pop("model")
    body = {
        "input_uri": args.input_uri,
        "output_uri": args.output_uri,
        "model": model,
        "options": {name: value for name, value in options.items() if value is not None},
        "priority": args.priority,
        "callback_url": args.callback_url,
        "metadata": dict(item.split("=", 1) for item in args.metadata),
    }
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    _show(_request(args, "POST", "/v1/jobs", json=body, headers=headers))


def _get(args: argparse.Namespace) -> None:
    _show(_request(args, "GET", f"/v1/jobs/{args.job_id}"))


def _list(args: argparse.Namespace) -> None:
    query = {"status": args.status, "created_from": args.created_from, "created_to": args.created_to}
    query |= {"cursor": args.cursor, "limit": args.limit}
    _show(_request(args, "GET", "/v1/jobs", params={k: v for k, v in query.items() if v is not None}))


def _cancel(args: argparse.Namespace) -> None:
    _show(_request(args, "POST", f"/v1/jobs/{args.job_id}/cancel"))


def _wait(args: argparse.Namespace) -> None:
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while (job := _request(args, "GET", f"/v1/jobs/{args.job_id}"))["status"] not in TERMINAL:
        if deadline is not None and time.monotonic() > deadline:
            raise ValueError(f"job {args.job_id} still {job['status']} after {args.timeout:g} s")
        time.sleep(args.interval)
    _show(job)
    if job["status"] != "succeeded":
        error = job.get("error") or {}
        raise ValueError(f"job {args.job_id} {job['status']}: {error.get('message') or error.get('code')}")


def _metadata_item(text: str) -> str:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def add_parsers(commands: argparse._SubParsersAction) -> None:
    settings = get_settings()
    client = argparse.ArgumentParser(add_help=False)
    client.add_argument(
        "--server",
        default=os.environ.get("HDRTV_SERVER", f"http://{settings.api_host}:{settings.api_port}"),
        help="API base URL (default: HDRTV_SERVER, else the settings' api_host and api_port)",
    )
    client.add_argument("--key", default=os.environ.get("HDRTV_API_KEY"), help="API key (default: HDRTV_API_KEY)")

    jobs = commands.add_parser("jobs", help="submit and follow conversion jobs on an hdrtv server")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")

    submit = actions.add_parser(
        "submit", parents=[client], help="queue a job (options left out: the server's defaults); prints it"
    )
    submit.add_argument("input_uri", help="SDR video, s3://bucket/key")
    submit.add_argument("output_uri", help="HDR10 .mkv or .mp4 to write, s3://bucket/key")
    # The job's choices as the API takes them; options left out take the server's defaults.
    add_option_flags(submit, REQUEST_FIELDS, settings, **dict.fromkeys(JOB_FIELDS))
    submit.add_argument("--priority", type=int, default=5, help="0..9, 9 the most urgent (default 5)")
    submit.add_argument("--callback-url", help="URL the server POSTs the finished job to")
    submit.add_argument("--metadata", type=_metadata_item, action="append", default=[], help="KEY=VALUE, repeatable")
    submit.add_argument("--idempotency-key", help="retrying with the same key never makes a second job")
    submit.set_defaults(run=_submit)

    get = actions.add_parser("get", parents=[client], help="print a job")
    get.add_argument("job_id")
    get.set_defaults(run=_get)

    listing = actions.add_parser("list", parents=[client], help="print a page of jobs, newest first")
    listing.add_argument("--status", choices=("queued", "running", *TERMINAL))
    listing.add_argument("--created-from", help="ISO 8601 time, inclusive")
    listing.add_argument("--created-to", help="ISO 8601 time, inclusive")
    listing.add_argument("--cursor", help="next_cursor of the previous page")
    listing.add_argument("--limit", type=int, help="jobs per page (server default 50)")
    listing.set_defaults(run=_list)

    cancel = actions.add_parser("cancel", parents=[client], help="cancel a job; prints it")
    cancel.add_argument("job_id")
    cancel.set_defaults(run=_cancel)

    wait = actions.add_parser("wait", parents=[client], help="poll until the job ends; non-zero unless it succeeded")
    wait.add_argument("job_id")
    wait.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    wait.add_argument("--timeout", type=float, help="give up after this many seconds")
    wait.set_defaults(run=_wait)
