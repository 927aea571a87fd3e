"""`hdrtv keys create|revoke`: the API keys of tenants, kept (hashed) in the settings' Redis."""

from __future__ import annotations

import argparse

from hdrtv.worker.control.settings import get_settings


def _keys(args: argparse.Namespace) -> None:
    import redis

    from ..api_keys import ApiKeys

    keys = ApiKeys(redis.Redis.from_url(get_settings().redis_url, decode_responses=True))
    try:
        if args.action == "create":
            print(keys.create(args.tenant))
            return
        if not keys.revoke(args.key):
            raise ValueError("no such API key")
    except redis.RedisError as error:
        raise OSError(f"Redis (HDRTV_REDIS_URL) unavailable: {error}") from None
    print("revoked")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="make and revoke API keys (stored hashed in Redis)")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="print a new key for TENANT; it is shown this once only")
    create.add_argument("tenant", help="letters, digits, '-' or '_'")
    revoke = actions.add_parser("revoke", help="make KEY stop working")
    revoke.add_argument("key")
    keys.set_defaults(run=_keys)
