"""Login and clearance for the web app and its JSON API, without loading any UI
(``quorum hash-password`` imports this).

The ``--auth`` file holds one credential a line: ``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH``
(SALT and HASH hex, HASH the PBKDF2-HMAC-SHA256 of the password) or, for programs calling the
API, ``USER:token_sha256$HASH`` (HASH the SHA-256 of a random bearer token), each with an
optional last field, the user's clearance: ``USER:HASH:OFFICIAL-SENSITIVE``. Blank lines and
lines starting with ``#`` are ignored. A user without that field is cleared to OFFICIAL only:
anything marked higher is granted explicitly. ``quorum hash-password USER [--grant LEVEL]
[--token]`` prints a line.

:class:`Accounts` is the one place that decides who may sign in and what they may see:
``accounts.authenticate(user, password)`` returns the :class:`User` (with its clearance, never
above the server's own ``--clearance``) or None; failed attempts are throttled per user name
and per address. :func:`identify` does the same for an HTTP ``Authorization`` header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.markings import LEVELS, clearance_level, is_clearance

HASH_SCHEME = "pbkdf2_sha256"
TOKEN_SCHEME = "token_sha256"
HASH_ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
DEFAULT_CLEARANCE = "OFFICIAL"
THROTTLE_WINDOW = 300.0  # seconds over which failed logins are counted
_LINE = re.compile(
    rf"(?P<user>[^:\s][^:]*):(?:(?P<hash>{HASH_SCHEME}\$(?P<rounds>\d+)\$[0-9a-f]+\$[0-9a-f]+)"
    rf"|{TOKEN_SCHEME}\$(?P<token>[0-9a-f]{{64}}))"
    r"(?::(?P<clearance>[A-Za-z -]+))?"
)


@dataclass(frozen=True)
class User:
    name: str
    clearance: str


def hash_password(password: str, iterations: int = HASH_ITERATIONS) -> str:
    """``pbkdf2_sha256$ITERATIONS$SALT$HASH`` (hex) for an ``--auth`` file."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def user_line(user: str, password: str, clearance: str = DEFAULT_CLEARANCE) -> str:
    """One line of an ``--auth`` file; the clearance field only when above the default."""
    grant = "" if clearance == DEFAULT_CLEARANCE else f":{clearance}"
    return f"{user}:{hash_password(password)}{grant}"


def new_token() -> tuple[str, str]:
    """A random bearer token and the ``token_sha256$HASH`` the auth file keeps of it."""
    token = secrets.token_urlsafe(32)
    return token, f"{TOKEN_SCHEME}${token_digest(token)}"


def token_digest(token: str) -> str:
    """Tokens are 256 random bits, so one SHA-256 is enough (no stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def verify_password(password: str, encoded: str) -> bool:
    scheme, iterations, salt, digest = encoded.split("$")
    found = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return scheme == HASH_SCHEME and hmac.compare_digest(found.hex(), digest)


@dataclass(frozen=True)
class _Entry:
    encoded: str
    clearance: str


def load_users(path: Path) -> dict[str, _Entry]:
    """The password lines of an ``--auth`` file, by user (the app's login form takes no
    tokens); see the module docstring for the format."""
    return read_auth_file(path)[0]


def read_auth_file(path: Path) -> tuple[dict[str, _Entry], dict[str, User]]:
    """The password entries by user, and the token holders by token digest."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the auth file ({exc.strerror})") from None
    users: dict[str, _Entry] = {}
    tokens: dict[str, User] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, entry, digest = _parse_line(path, number, line.strip())
        if digest:
            tokens[digest] = User(user, entry.clearance)
        else:
            users[user] = entry
    if not users and not tokens:
        raise ConfigError(f"{path}: no users in the auth file")
    return users, tokens


def _parse_line(path: Path, number: int, line: str) -> tuple[str, _Entry, str | None]:
    """(user, password entry or the token's clearance, token digest or None)."""
    where = f"{path}:{number}"
    match = _LINE.fullmatch(line)
    if match is None:
        raise ConfigError(
            f"{where}: expected USER:{HASH_SCHEME}$ITERATIONS$SALT$HASH[:CLEARANCE] or "
            f"USER:{TOKEN_SCHEME}$HASH[:CLEARANCE] "
            "(make one with `quorum hash-password USER [--token]`)"
        )
    if match["rounds"] and int(match["rounds"]) < MIN_ITERATIONS:
        raise ConfigError(
            f"{where}: {match['rounds']} PBKDF2 iterations is too few (at least "
            f"{MIN_ITERATIONS:,}); make the line again with `quorum hash-password`"
        )
    clearance = (match["clearance"] or DEFAULT_CLEARANCE).strip()
    if not is_clearance(clearance):
        raise ConfigError(f"{where}: unknown clearance {clearance!r} (use {', '.join(LEVELS)})")
    canonical = LEVELS[clearance_level(clearance)]
    return match["user"], _Entry(match["hash"] or "", canonical), match["token"]


class Accounts:
    """Who may sign in, with which clearance, and how often they may try.

    ``ceiling`` is the server's own clearance: no user sees above it.
    """

    def __init__(
        self,
        users: dict[str, _Entry],
        ceiling: str,
        attempts: int = 5,
        tokens: dict[str, User] | None = None,
    ) -> None:
        self._users = users
        self._tokens = tokens or {}
        self._verified: set[str] = set()
        self._ceiling = clearance_level(ceiling)
        self._attempts = attempts
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._decoy = hash_password(secrets.token_hex(8))

    @classmethod
    def from_file(cls, path: Path, ceiling: str, attempts: int = 5) -> Accounts:
        users, tokens = read_auth_file(path)
        return cls(users, ceiling, attempts, tokens)

    def authenticate(self, user: str, password: str, address: str = "") -> User | None:
        """The user when the password is right and neither the name nor the address has
        failed too often lately; None otherwise. Unknown users cost a hash too, so timing
        hides who exists."""
        keys = [f"user:{user}", f"addr:{address}"] if address else [f"user:{user}"]
        if self._throttled(keys):
            return None
        entry = self._users.get(user)
        if entry and self._remembered(user, password, entry):
            return User(user, self.clearance_of(user))
        ok = verify_password(password, entry.encoded if entry else self._decoy) and entry
        if not ok:
            self._failed(keys)
            return None
        with self._lock:
            self._verified.add(_remember_key(user, password, entry))
        return User(user, self.clearance_of(user))

    def by_token(self, token: str) -> User | None:
        """The holder of a bearer token, with their clearance capped by the server's."""
        holder = self._tokens.get(token_digest(token))
        if holder is None:
            return None
        level = min(clearance_level(holder.clearance), self._ceiling)
        return User(holder.name, LEVELS[level])

    def _remembered(self, user: str, password: str, entry: _Entry) -> bool:
        """A password that verified once is remembered (by a SHA-256 of user, password and
        stored hash, in memory) so a program sending Basic credentials on every call does
        not pay 600,000 PBKDF2 rounds each time; changing the file changes the stored hash."""
        with self._lock:
            return _remember_key(user, password, entry) in self._verified

    def clearance_of(self, user: str | None) -> str:
        """A signed-in user's clearance (capped by the server's); OFFICIAL if unknown."""
        entry = self._users.get(user or "")
        holder = next((t for t in self._tokens.values() if t.name == user), None)
        granted = entry.clearance if entry else holder.clearance if holder else None
        level = clearance_level(granted) if granted else 0
        return LEVELS[min(level, self._ceiling)]

    def _throttled(self, keys: list[str]) -> bool:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                recent = self._failures.get(key, deque())
                while recent and now - recent[0] > THROTTLE_WINDOW:
                    recent.popleft()
                if len(recent) >= self._attempts:
                    return True
        return False

    def _failed(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)


def _remember_key(user: str, password: str, entry: _Entry) -> str:
    return hashlib.sha256(f"{user}\0{password}\0{entry.encoded}".encode()).hexdigest()


def identify(authorization: str | None, accounts: Accounts, address: str = "") -> User | None:
    """The user an HTTP ``Authorization`` header proves to be (``Basic`` user and password,
    through the same throttled check as the login page, or ``Bearer`` token), or None. Every
    API request's credentials are checked here and only here."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return accounts.by_token(value.strip())
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return accounts.authenticate(user, password, address) if sep else None
