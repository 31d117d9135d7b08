"""Login for the web app and its API, without loading any UI (``quorum hash-password``
imports this).

The ``--auth`` file holds one credential a line: ``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH``
(SALT and HASH hex, HASH the PBKDF2-HMAC-SHA256 of the password) or, for programs calling the
API, ``USER:token_sha256$HASH`` (HASH the SHA-256 of a random bearer token). Blank lines and
lines starting with ``#`` are ignored. ``quorum hash-password USER [--token]`` prints a line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError

HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 600_000
TOKEN_SCHEME = "token_sha256"
PASSWORD_LINE = re.compile(rf"{HASH_SCHEME}\$\d+\$[0-9a-f]+\$[0-9a-f]+")
TOKEN_LINE = re.compile(rf"{TOKEN_SCHEME}\$[0-9a-f]{{64}}")


def hash_password(password: str, iterations: int = HASH_ITERATIONS) -> str:
    """``pbkdf2_sha256$ITERATIONS$SALT$HASH`` (hex) for an ``--auth`` file."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    scheme, iterations, salt, digest = encoded.split("$")
    found = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return scheme == HASH_SCHEME and hmac.compare_digest(found.hex(), digest)


def new_token() -> tuple[str, str]:
    """A random bearer token and the ``token_sha256$HASH`` the auth file keeps of it."""
    token = secrets.token_urlsafe(32)
    return token, f"{TOKEN_SCHEME}${token_digest(token)}"


def token_digest(token: str) -> str:
    """Tokens are 256 random bits, so one SHA-256 is enough (no stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Accounts:
    """The users of an auth file: password hashes by user, and users by token digest."""

    passwords: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    decoy: str = field(default_factory=lambda: hash_password(secrets.token_hex(8)), repr=False)
    _verified: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def load_accounts(path: Path) -> Accounts:
    """Every password and token line of an auth file; see the module docstring."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the auth file ({exc.strerror})") from None
    accounts = Accounts({})
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, _, encoded = line.strip().partition(":")
        if user and PASSWORD_LINE.fullmatch(encoded):
            accounts.passwords[user] = encoded
        elif user and TOKEN_LINE.fullmatch(encoded):
            accounts.tokens[encoded.partition("$")[2]] = user
        else:
            raise ConfigError(
                f"{path}:{number}: expected USER:{HASH_SCHEME}$ITERATIONS$SALT$HASH or "
                f"USER:{TOKEN_SCHEME}$HASH (make one with `quorum hash-password USER [--token]`)"
            )
    if not accounts.passwords and not accounts.tokens:
        raise ConfigError(f"{path}: no users in the auth file")
    return accounts


def load_users(path: Path) -> dict[str, str]:
    """The password lines of an auth file, by user (the app's login form takes no tokens)."""
    return load_accounts(path).passwords


def password_checker(users: dict[str, str]) -> Callable[[str, str], bool]:
    """Gradio's ``auth`` callback. Unknown users cost a hash too, so timing hides who exists."""
    decoy = hash_password(secrets.token_hex(8))

    def check(user: str, password: str) -> bool:
        return verify_password(password, users.get(user, decoy)) and user in users

    return check


def identify(authorization: str | None, accounts: Accounts) -> str | None:
    """The user an HTTP ``Authorization`` header proves to be (``Basic`` user and password,
    or ``Bearer`` token), or None. Every API request's credentials are checked here and only
    here.

    A password that verified once is remembered (by a SHA-256 of user, password and stored
    hash, in memory) so a program sending Basic credentials on every call does not pay
    600,000 PBKDF2 rounds each time; changing the file changes the stored hash.
    """
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return accounts.tokens.get(token_digest(value.strip()))
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    encoded = accounts.passwords.get(user)
    if not sep or encoded is None:
        verify_password(password, accounts.decoy)  # unknown users cost a hash too
        return None
    key = hashlib.sha256(f"{user}\0{password}\0{encoded}".encode()).hexdigest()
    with accounts._lock:
        if key in accounts._verified:
            return user
    if not verify_password(password, encoded):
        return None
    with accounts._lock:
        accounts._verified.add(key)
    return user
