"""The second pass: MiniLM vectors for chunks an ingest committed without them.

With ``vector_pass="background"`` an ingest commits each meeting's catalogue rows and BM25
as before but writes no dense vectors: its chunks are listed as pending, and the meeting is
searchable at once (retrieval fuses BM25 with whatever vectors Chroma holds; a chunk with
none yet is found by BM25 alone). This pass then embeds the pending chunks in large batches
(sentence-transformers sorts each batch by length, so bigger batches pad less) and adds them
to Chroma. Readers never wait on it. One pass at a time per index (a lock file taken without
waiting); a pass that fails or is stopped loses nothing: its chunks stay pending and the
next pass takes them.

    python -m index.vectors        # fill the pending vectors of the configured index now
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from core.errors import QuorumError
from core.settings import Settings, load_settings
from index.embed import Embedder
from index.store import IndexStore, file_lock

FILL_BATCH = 256
LOG_NAME = "vectors.log"


def filler_lock(index_dir: Path, wait: bool = False) -> contextlib.AbstractContextManager[bool]:
    """Whether this process is the index's one second pass (with ``wait``, once the pass
    running elsewhere has ended)."""
    return file_lock(index_dir / ".vectors.lock", wait)


def fill_vectors(
    store: IndexStore,
    embedder: Embedder,
    batch: int = FILL_BATCH,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = False,
) -> int | None:
    """Embed every pending chunk and add its vector; returns how many were added, or None
    when another pass is already filling this index (with ``wait``: after it ends, this
    pass takes whatever is still pending)."""
    with filler_lock(store.path, wait) as held:
        if not held:
            return None
        added = 0
        while chunks := store.catalog.pending_vectors(batch):
            vectors = embedder.embed([c.embed_text for c in chunks])
            added += store.add_vectors(chunks, vectors)
            if progress:
                progress(added, store.catalog.pending_count())
        return added


def start_background_fill(settings: Settings) -> subprocess.Popen | None:
    """Start the second pass as its own process (it outlives the caller; output goes to
    ``vectors.log`` in the index), unless nothing is pending."""
    store = IndexStore(settings)
    if not store.catalog.pending_count():
        return None
    log = open(store.path / LOG_NAME, "a")  # noqa: SIM115 (the child holds it)
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "index.vectors"],
            env=settings.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def main() -> int:
    try:
        settings = load_settings()
        store = IndexStore(settings, create=False)
        embedder = Embedder(settings.embed_model, settings.embed_batch_size)
        added = fill_vectors(store, embedder)
    except QuorumError as exc:
        print(f"second pass: {exc}", file=sys.stderr)
        return 1
    if added is None:
        print("second pass: another pass is filling this index")
    else:
        print(f"second pass: {added} vectors added to {settings.index_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
