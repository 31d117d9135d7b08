"""Login for the web app, without loading any UI (``quorum hash-password`` imports this).

The ``--auth`` file holds one user a line, ``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH`` where
SALT and HASH are hex and HASH is PBKDF2-HMAC-SHA256 of the password; blank lines and lines
starting with ``#`` are ignored. ``quorum hash-password USER`` prints such a line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from core.errors import ConfigError

HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 600_000


def hash_password(password: str, iterations: int = HASH_ITERATIONS) -> str:
    """``pbkdf2_sha256$ITERATIONS$SALT$HASH`` (hex) for an ``--auth`` file."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    scheme, iterations, salt, digest = encoded.split("$")
    found = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return scheme == HASH_SCHEME and hmac.compare_digest(found.hex(), digest)


def load_users(path: Path) -> dict[str, str]:
    """``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH`` lines; see the module docstring."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the auth file ({exc.strerror})") from None
    users = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, _, encoded = line.strip().partition(":")
        if not user or not re.fullmatch(rf"{HASH_SCHEME}\$\d+\$[0-9a-f]+\$[0-9a-f]+", encoded):
            raise ConfigError(
                f"{path}:{number}: expected USER:{HASH_SCHEME}$ITERATIONS$SALT$HASH "
                "(make one with `quorum hash-password USER`)"
            )
        users[user] = encoded
    if not users:
        raise ConfigError(f"{path}: no users in the auth file")
    return users


def password_checker(users: dict[str, str]) -> Callable[[str, str], bool]:
    """Gradio's ``auth`` callback. Unknown users cost a hash too, so timing hides who exists."""
    decoy = hash_password(secrets.token_hex(8))

    def check(user: str, password: str) -> bool:
        return verify_password(password, users.get(user, decoy)) and user in users

    return check
