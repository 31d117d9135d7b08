"""The ``quorum`` command line: a thin shell on top of ``index``, ``rag``, ``eval`` and ``web``.

The library it drives lives below it: ``core`` (settings and errors), ``index`` (parse, chunk,
embed, store), ``rag`` (retrieve, answer, verify, summarise).
"""

__version__ = "0.1.0"
