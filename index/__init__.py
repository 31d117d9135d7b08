"""Parse minutes into typed meetings, chunk them, embed them and keep them in a persistent index.

Nothing here knows about answering questions; ``rag`` builds on this package.
"""
