"""A daemon thread that runs one refresh step every few seconds, for the life of a worker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def poll_forever(name: str, seconds: float, step: Callable[[], None]) -> threading.Thread | None:
    """Start ``step`` every ``seconds`` in a daemon thread (none if ``seconds`` <= 0, as in
    tests, which call the step themselves). A failing step is logged; the next one runs."""
    if seconds <= 0:
        return None

    def run() -> None:
        while True:
            time.sleep(seconds)
            try:
                step()
            except Exception:  # keep serving what was last loaded
                log.exception("%s failed", name)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
