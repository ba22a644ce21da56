"""Rows of the auction's delivery tables, for tests that write them directly."""

from __future__ import annotations

from datetime import UTC, datetime

SERVED_AT = datetime(2026, 11, 29, 9, tzinfo=UTC)


def served_ad_row(number: int, **fields) -> dict:
    """A ``served_ads`` row; ``number`` makes its ids, position, price and pCTR differ."""
    return {
        "impression_id": f"imp_{number}",
        "request_id": f"req_{number}",
        "served_at": SERVED_AT,
        "user_id": "u1",
        "ad_id": "ad_1",
        "ad_group_id": "adg_1",
        "advertiser_id": "adv_1",
        "position": 3 + number,
        "billing_event": "CPC",
        "price_micros": 10**9 + number,
        "pctr": 0.0125 * (number + 1),
        "model_version": "lgbm-1",
        # A JSON list is one value, not a dimension of the array it travels in.
        "features": [float(number), -1.0, 0.5],
        "feature_spec": "f" * 64,
        **fields,
    }
