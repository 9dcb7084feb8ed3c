"""sha256 computed by a worker thread while the caller reads or writes."""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any

__all__ = ["BackgroundSha256", "NoHash"]


class BackgroundSha256:
    """sha256 computed by a worker thread, so hashing overlaps reading or writing.

    ``hashlib`` releases the GIL on large buffers, so the two really run at once. Chunks are
    hashed in the order given; ``keepalive`` holds whatever owns a chunk's memory until then.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[tuple[Any, Any] | None] = queue.Queue(maxsize=64)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ganglion-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._hash.update(item[0])
                except BaseException as exc:  # reported by hexdigest()
                    self._error = exc

    def update(self, data: Any, keepalive: Any = None) -> None:
        self._queue.put((data, keepalive))

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def __enter__(self) -> BackgroundSha256:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class NoHash:
    """Stands in for :class:`BackgroundSha256` when a file's checksums are already known good."""

    def update(self, data: Any, keepalive: Any = None) -> None:
        pass

    def hexdigest(self) -> str:
        return ""

    def __enter__(self) -> NoHash:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass
