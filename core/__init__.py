"""What every layer of Quorum stands on: the settings and the error family.

Nothing here imports any other part of the project, so ``index``, ``rag``, ``eval``, ``web``
and the shells on top (the ``quorum`` command, ``app.py``) can all import it.
"""
