"""Bearer API key authentication: every request under /v1 acts for the tenant its key belongs to."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .services import AppServices

_bearer = HTTPBearer(auto_error=False, description="an API key made by `hdrtv keys create TENANT`")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def current_tenant(
    services: AppServices, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """The tenant of the request's API key; 401 when the key is missing or unknown."""
    if credentials is None:
        raise _unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    tenant = services.keys.tenant(credentials.credentials)
    if tenant is None:
        raise _unauthorized("unknown or revoked API key")
    return tenant


CurrentTenant = Annotated[str, Depends(current_tenant)]
