"""What happened in the store, told to whoever listens: the office's open screens
refresh when phones sync (the screens subscribe; the API publishes after a commit).

Thread-safe: pushes commit in the thread pool, the screens listen on Flet's loop; a
listener that fails is dropped, never the publisher's problem.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger("gridbook.events")


class Hub:
    def __init__(self):
        self._subscribers: dict[int, Callable[[dict], None]] = {}
        self._lock = threading.Lock()
        self._next = 0

    def subscribe(self, fn: Callable[[dict], None]) -> Callable[[], None]:
        """Call fn(event) for every event from now on; returns the unsubscribe."""
        with self._lock:
            self._next += 1
            key = self._next
            self._subscribers[key] = fn

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)
        return unsubscribe

    def publish(self, event: dict) -> None:
        with self._lock:
            listeners = list(self._subscribers.items())
        for key, fn in listeners:
            try:
                fn(event)
            except Exception:  # a closed tab: forget it
                log.debug("listener %s failed; dropped", key, exc_info=True)
                with self._lock:
                    self._subscribers.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._subscribers)


def arrived(batch: list, results: list, by: str) -> dict | None:
    """The event for a push: who, how many changes were applied, which matters they touched."""
    cases, n = set(), 0
    for ch, res in zip(batch, results):
        if res.get("status") != "applied" or not isinstance(ch, dict):
            continue
        n += 1
        if ch.get("entity") == "case":
            cases.add(ch.get("record"))
        elif isinstance(ch.get("fields"), dict) and isinstance(ch["fields"].get("case_id"), str):
            cases.add(ch["fields"]["case_id"])
    return {"kind": "sync", "by": by, "applied": n, "cases": sorted(c for c in cases if isinstance(c, str))} if n else None
