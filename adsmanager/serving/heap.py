"""Keeps a serving worker's long-lived data out of the cyclic garbage collector's walks.

A worker holds a few hundred thousand objects for as long as they serve: the snapshot of ad
groups and the market built on it, the click-through history, the libraries' own. Each full
collection of CPython's cyclic collector walks all of them: 100-140 ms with 10,000 ad groups
(about 230,000 objects), during which the worker answers nothing. Under load one came about
every 25 s in each worker, and its stall was the auction's p99.

After such a structure is built or replaced, ``settle()`` collects what is garbage at that
moment and moves every object still alive into the permanent generation (``gc.freeze()``),
which later collections skip. Objects in it are still freed by reference counting as soon as
nothing refers to them, as a replaced snapshot is; only a reference cycle among them would
outlive its use, which is why the collection comes first.

Then it hands the heap's free pages back to the system (glibc's ``malloc_trim``): building
a snapshot frees much of what it allocated (query rows, the old snapshot), and the C
allocator would otherwise keep those pages in the worker's resident memory.

Off unless a serving entry point turns it on (``enable``): a test run builds and drops
hundreds of apps, and freezing its heap would keep every app's reference cycles for good.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading

_lock = threading.Lock()
_enabled = False


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


_trim = _malloc_trim()


def enable() -> None:
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


def settle() -> None:
    """Collect the garbage of the moment, then leave everything alive out of later
    collections. The collection walks only what is not frozen yet: little, after the first."""
    if not _enabled:
        return
    with _lock:
        gc.collect()
        gc.freeze()
        if _trim is not None:
            _trim(0)
