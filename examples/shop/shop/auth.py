"""Sign-in: password checks and short-lived HMAC-signed bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

DEFAULT_TTL_SECONDS = 3600


class InvalidToken(Exception):
    """The token is malformed, forged or expired."""


def check_password(users: Mapping[str, str], username: str, password: str) -> bool:
    """Tell whether `password` is the user's, in time independent of where they differ."""
    expected = users.get(username)
    if expected is None:
        # Compare anyway so unknown users take as long as wrong passwords.
        hmac.compare_digest(password.encode(), password.encode())
        return False
    return hmac.compare_digest(expected.encode(), password.encode())


def _sign(message: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def issue_token(
    username: str, secret: str, *, now: float | None = None, ttl: int = DEFAULT_TTL_SECONDS
) -> str:
    """Return a bearer token naming `username`, valid for `ttl` seconds from `now`."""
    expires = int((time.time() if now is None else now) + ttl)
    body = base64.urlsafe_b64encode(f"{username}:{expires}".encode()).decode().rstrip("=")
    return f"{body}.{_sign(body.encode(), secret)}"


def verify_token(token: str, secret: str, *, now: float | None = None) -> str:
    """Return the username a valid token names; raise InvalidToken otherwise."""
    body, _, signature = token.partition(".")
    if not body or not signature:
        raise InvalidToken("malformed token")
    if not hmac.compare_digest(_sign(body.encode(), secret), signature):
        raise InvalidToken("bad signature")
    try:
        decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        username, _, expires = decoded.rpartition(":")
        expires_at = int(expires)
    except ValueError as exc:
        raise InvalidToken("malformed token") from exc
    if (time.time() if now is None else now) >= expires_at:
        raise InvalidToken("token expired")
    return username
