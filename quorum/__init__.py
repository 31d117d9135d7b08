"""Quorum: cited answers, briefings and registers over meeting minutes.

This package is the CLI shell. What every layer shares (settings and errors) lives in
``core``; the library lives in ``index`` (parse, chunk, embed, store) and ``rag`` (retrieve,
answer, verify, summarise).
"""

__version__ = "0.1.0"
