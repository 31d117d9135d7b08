"""Protective markings and clearances: one ordered scale both are read against.

The scale is the Government Security Classifications' (OFFICIAL < OFFICIAL-SENSITIVE <
SECRET < TOP-SECRET). Markings written in minutes are mapped onto it; the older GPMS words
map to the level above their usual successor (RESTRICTED to OFFICIAL-SENSITIVE,
CONFIDENTIAL to SECRET), so an unclear marking withholds rather than discloses.
"""

from __future__ import annotations

import re
from typing import Literal

Clearance = Literal["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"]
LEVELS: tuple[str, ...] = ("OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET")
HIGHEST = len(LEVELS) - 1


def clearance_level(clearance: str) -> int:
    """The rank of a clearance name on the scale (OFFICIAL is 0)."""
    return LEVELS.index(clearance.strip().upper().replace(" ", "-"))


def is_clearance(name: str) -> bool:
    return name.strip().upper().replace(" ", "-") in LEVELS


def marking_level(marking: str | None) -> int:
    """The rank of a marking as minutes write it ("Official Sensitive - Operational" is 1)."""
    if not marking:
        return 0
    words = re.sub(r"[^a-z]+", " ", marking.lower()).split()
    head = " ".join(words[:2])
    if head == "top secret":
        return 3
    if words[0] in ("secret", "confidential"):
        return 2
    if words[0] == "restricted" or (words[0] == "official" and "sensitive" in words[1:2]):
        return 1
    return 0
