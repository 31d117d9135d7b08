"""Login and clearance for the web app (and any other front end), without loading any UI
(``quorum hash-password`` imports this).

The ``--auth`` file holds one user a line, ``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH`` with an
optional third field, the user's clearance: ``USER:HASH:OFFICIAL-SENSITIVE``. SALT and HASH
are hex and HASH is PBKDF2-HMAC-SHA256 of the password; blank lines and lines starting with
``#`` are ignored. A user without a third field is cleared to OFFICIAL only: anything marked
higher is granted explicitly. ``quorum hash-password USER [--grant LEVEL]`` prints a line.

:class:`Accounts` is the one place that decides who may sign in and what they may see:
``accounts.authenticate(user, password)`` returns the :class:`User` (with its clearance, never
above the server's own ``--clearance``) or None; failed attempts are throttled per user name
and per address.
"""

from __future__ import annotations

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
HASH_ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
DEFAULT_CLEARANCE = "OFFICIAL"
THROTTLE_WINDOW = 300.0  # seconds over which failed logins are counted
_LINE = re.compile(
    rf"(?P<user>[^:\s][^:]*):(?P<hash>{HASH_SCHEME}\$(?P<rounds>\d+)\$[0-9a-f]+\$[0-9a-f]+)"
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


def verify_password(password: str, encoded: str) -> bool:
    scheme, iterations, salt, digest = encoded.split("$")
    found = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return scheme == HASH_SCHEME and hmac.compare_digest(found.hex(), digest)


@dataclass(frozen=True)
class _Entry:
    encoded: str
    clearance: str


def load_users(path: Path) -> dict[str, _Entry]:
    """The users of an ``--auth`` file; see the module docstring for the format."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the auth file ({exc.strerror})") from None
    users = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        users.update([_parse_line(path, number, line.strip())])
    if not users:
        raise ConfigError(f"{path}: no users in the auth file")
    return users


def _parse_line(path: Path, number: int, line: str) -> tuple[str, _Entry]:
    where = f"{path}:{number}"
    match = _LINE.fullmatch(line)
    if match is None:
        raise ConfigError(
            f"{where}: expected USER:{HASH_SCHEME}$ITERATIONS$SALT$HASH[:CLEARANCE] "
            "(make one with `quorum hash-password USER`)"
        )
    if int(match["rounds"]) < MIN_ITERATIONS:
        raise ConfigError(
            f"{where}: {match['rounds']} PBKDF2 iterations is too few (at least "
            f"{MIN_ITERATIONS:,}); make the line again with `quorum hash-password`"
        )
    clearance = (match["clearance"] or DEFAULT_CLEARANCE).strip()
    if not is_clearance(clearance):
        raise ConfigError(f"{where}: unknown clearance {clearance!r} (use {', '.join(LEVELS)})")
    canonical = LEVELS[clearance_level(clearance)]
    return match["user"], _Entry(match["hash"], canonical)


class Accounts:
    """Who may sign in, with which clearance, and how often they may try.

    ``ceiling`` is the server's own clearance: no user sees above it.
    """

    def __init__(self, users: dict[str, _Entry], ceiling: str, attempts: int = 5) -> None:
        self._users = users
        self._ceiling = clearance_level(ceiling)
        self._attempts = attempts
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._decoy = hash_password(secrets.token_hex(8))

    @classmethod
    def from_file(cls, path: Path, ceiling: str, attempts: int = 5) -> Accounts:
        return cls(load_users(path), ceiling, attempts)

    def authenticate(self, user: str, password: str, address: str = "") -> User | None:
        """The user when the password is right and neither the name nor the address has
        failed too often lately; None otherwise. Unknown users cost a hash too, so timing
        hides who exists."""
        keys = [f"user:{user}", f"addr:{address}"] if address else [f"user:{user}"]
        if self._throttled(keys):
            return None
        entry = self._users.get(user)
        ok = verify_password(password, entry.encoded if entry else self._decoy) and entry
        if not ok:
            self._failed(keys)
            return None
        return User(user, self.clearance_of(user))

    def clearance_of(self, user: str | None) -> str:
        """A signed-in user's clearance (capped by the server's); OFFICIAL if unknown."""
        entry = self._users.get(user or "")
        level = clearance_level(entry.clearance) if entry else 0
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
