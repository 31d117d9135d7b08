"""Briefings: cited summaries of one meeting, of a topic across meetings, and of what happened
since the last meeting of a kind. :mod:`.engine` builds them, :mod:`.models` holds what it
builds, :mod:`.render` is how every output format writes one."""
