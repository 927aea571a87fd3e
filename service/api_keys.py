"""API keys: random bearer tokens, each belonging to one tenant, stored in Redis only as hashes.

A key is `hdrtv_` + 43 URL-safe characters (256 random bits) and is shown once, when made. Redis
holds `api_key:<sha256 hex of the key>` -> tenant. A plain SHA-256 is enough here, and better
suited than bcrypt or Argon2: those are slow and salted to protect guessable passwords, while a
256-bit random key cannot be guessed however fast the hash, and an unsalted hash lets each request
find its key with one GET instead of a deliberately slow comparison.
"""

from __future__ import annotations

import hashlib
import secrets

import redis

KEY_PREFIX = "hdrtv_"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """Make, resolve and revoke the API keys of tenants."""

    def __init__(self, client: redis.Redis, prefix: str = "hdrtv") -> None:
        self.redis = client
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}:api_key:{hash_key(key)}"

    @staticmethod
    def check_tenant(tenant: str) -> None:
        """ValueError unless `tenant` is a usable name (it becomes part of Redis keys)."""
        if not tenant or not tenant.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"tenant must be letters, digits, '-' or '_', got {tenant!r}")

    def create(self, tenant: str) -> str:
        """A new key for `tenant`; only its hash is stored, so this is the one time it can be read."""
        self.check_tenant(tenant)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.redis.set(self._key(key), tenant)
        return key

    def tenant(self, key: str) -> str | None:
        """The tenant the key belongs to; None for an unknown or revoked key."""
        return self.redis.get(self._key(key))

    def revoke(self, key: str) -> bool:
        """Forget the key; False if it was unknown."""
        return self.redis.delete(self._key(key)) == 1
