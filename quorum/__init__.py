"""Quorum: cited answers, briefings and registers over meeting minutes.

This package holds what every layer shares (settings and errors) and the CLI shell.
The library lives in ``index`` (parse, chunk, embed, store) and ``rag`` (retrieve,
answer, verify, summarise).
"""

__version__ = "0.1.0"
