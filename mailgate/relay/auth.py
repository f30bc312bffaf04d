"""SMTP AUTH (PLAIN/LOGIN, only over TLS) against ``[relay.users]``: login → PBKDF2 hash.

Make a hash with ``python -c "from mailgate.relay.auth import hash_password as h; print(h('secret'))"``.
Passwords are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

log = logging.getLogger("mailgate.relay.auth")
ITERATIONS = 100_000  # verified in the event loop (aiosmtpd calls authenticators synchronously)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


class Authenticator:
    """aiosmtpd ``authenticator`` callable."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = {k.lower(): v for k, v in users.items()}

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace").lower()
        stored = self.users.get(login)
        ok = stored is not None and verify_password(auth_data.password.decode("utf-8", "replace"), stored)
        if not ok:
            log.warning("%s AUTH failed for %r", session.peer, login)
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)
