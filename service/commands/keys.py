"""`hdrtv keys create|revoke|grant|ungrant|grants`: the API keys of tenants, kept (hashed) in the
settings' Redis, and the storage and callback grants of tenants (`hdrtv.worker.control.grants`)."""

from __future__ import annotations

import argparse

from hdrtv.worker.control.settings import get_settings


def _keys(args: argparse.Namespace) -> None:
    import redis
    from hdrtv.worker.control.grants import MODES, Grants

    from ..api_keys import ApiKeys

    client = redis.Redis.from_url(get_settings().redis_url, decode_responses=True)
    keys, grants = ApiKeys(client), Grants(client)
    try:
        if args.action == "revoke":
            if not keys.revoke(args.key):
                raise ValueError("no such API key")
            print("revoked")
            return
        if args.action == "create":
            keys.check_tenant(args.tenant)
        for mode in MODES:
            for prefix in getattr(args, mode, None) or ():
                if args.action == "ungrant":
                    if not grants.revoke(args.tenant, mode, prefix):
                        raise ValueError(f"tenant {args.tenant!r} has no {mode} grant {prefix}")
                else:
                    grants.grant(args.tenant, mode, prefix)
        if args.action == "create":
            print(keys.create(args.tenant))
            return
        for mode, prefixes in grants.of(args.tenant).items():
            print(f"{mode}: {' '.join(prefixes) or '(none)'}")
    except redis.RedisError as error:
        raise OSError(f"Redis (HDRTV_REDIS_URL) unavailable: {error}") from None


def _grant_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    for mode in ("read", "write"):
        parser.add_argument(
            f"--{mode}",
            action="append",
            metavar="PREFIX",
            help=f"{verb} {mode} access under PREFIX (s3://bucket/, s3://bucket/folder/, s3:// for every bucket); "
            "repeatable",
        )
    parser.add_argument(
        "--callback",
        action="append",
        metavar="URL_PREFIX",
        help=f"{verb} callbacks to URLs under URL_PREFIX (https://hooks.example.com/, https:// for any); repeatable",
    )


def add_parsers(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="make and revoke API keys (stored hashed in Redis) and storage grants")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="print a new key for TENANT; it is shown this once only")
    create.add_argument("tenant", help="letters, digits, '-' or '_'")
    _grant_flags(create, "also grant TENANT")
    revoke = actions.add_parser("revoke", help="make KEY stop working")
    revoke.add_argument("key")
    grant = actions.add_parser(
        "grant", help="let TENANT's jobs read or write under prefixes, or call back there; prints its grants"
    )
    grant.add_argument("tenant")
    _grant_flags(grant, "grant")
    ungrant = actions.add_parser("ungrant", help="take grants back (jobs not yet started stop); prints the rest")
    ungrant.add_argument("tenant")
    _grant_flags(ungrant, "take back")
    listing = actions.add_parser("grants", help="print TENANT's storage and callback grants")
    listing.add_argument("tenant")
    keys.set_defaults(run=_keys)
