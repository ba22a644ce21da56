"""Settling the heap: a serving worker's snapshot leaves the garbage collector's walks, and a
replaced snapshot is still freed."""

import gc
import os
import platform
import weakref
from pathlib import Path

import pytest

from adsmanager.serving import heap
from adsmanager.serving.snapshot import SnapshotHolder
from tests.factories import make_ad, make_ad_group, make_campaign


@pytest.fixture
def settling(monkeypatch):
    """Settling on, as in a serving process; the test run's heap is unfrozen afterwards."""
    monkeypatch.setattr(heap, "_enabled", True)
    try:
        yield
    finally:
        gc.unfreeze()


def test_settling_is_off_unless_a_serving_entry_point_turns_it_on():
    assert not heap.enabled()
    frozen = gc.get_freeze_count()
    heap.settle()
    assert gc.get_freeze_count() == frozen


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_settling_hands_the_freed_heap_back_to_the_system(settling):
    blocks = [bytes(4096) for _ in range(25_000)]  # 100 MB from malloc, not Python's pools
    in_use_above = bytes(4096)  # keeps the heap's top in use: free() alone returns nothing
    del blocks
    before = _resident_bytes()
    heap.settle()
    assert before - _resident_bytes() > 50 * 2**20
    del in_use_above


def test_a_settled_snapshot_is_out_of_the_collectors_walks_and_freed_once_replaced(
    settling, admin, acme, db
):
    api = acme[1]
    campaign = make_campaign(api)
    group = make_ad_group(api, campaign["id"], billing_event="CPM", bid_micros=2_000_000)
    ad = make_ad(api, group["id"])
    admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"})
    holder = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02)

    first = holder.current()
    served = first.ad_groups[group["id"]]
    assert gc.get_freeze_count() > 0
    # gc.get_objects() lists what collections walk; the permanent generation is not in it.
    walked = {id(tracked) for tracked in gc.get_objects()}
    assert id(served) not in walked and id(first.market) not in walked

    replaced = weakref.ref(first)
    del first, served, walked
    api.patch(f"/v1/ad-groups/{group['id']}", json={"bid_micros": 3_000_000})
    assert holder.refresh() is True
    assert holder.current().ad_groups[group["id"]].bid_micros == 3_000_000
    # Frozen objects are never collected as cycles: only reference counting could free it.
    assert replaced() is None
