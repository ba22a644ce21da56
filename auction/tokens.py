"""Signed tracking tokens: what the feed service hands back to report an impression or a click.

A token carries everything needed to charge the event (who, what, at which price), so the
events endpoint needs no lookup to price it, and an HMAC-SHA256 signature over all of it, so
nobody can change the price, the ad or the expiry. Format: ``v1.<payload>.<signature>``,
both parts base64url without padding; the payload is compact JSON in UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, fields

import orjson

VERSION = "v1"
IMPRESSION = "impression"
CLICK = "click"
EVENT_TYPES = (IMPRESSION, CLICK)


class InvalidToken(ValueError):
    """``reason`` is one of: malformed, bad_signature, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """One billable (or merely countable) event of one served ad."""

    impression_id: str  # one per placement; with event_type, the idempotency key
    event_type: str  # impression or click
    request_id: str
    user_id: str
    ad_id: str
    ad_group_id: str
    campaign_id: str
    advertiser_id: str
    billing_event: str  # CPM or CPC
    charge_micros: int  # what this event costs: CPM on impression, CPC on click, else 0
    position: int
    expires_at: int  # Unix seconds


_FIELDS = tuple(field.name for field in fields(TrackedEvent))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: str | bytes) -> None:
        secret = secret.encode() if isinstance(secret, str) else secret
        # A key of its own, so the tokens never share a key with sessions or anything else.
        self._key = hmac.new(secret, b"adsmanager tracking tokens v1", hashlib.sha256).digest()
        # Keyed once; each signature starts from a copy (cheaper than keying again).
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)

    def _signature(self, payload: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{VERSION}.{payload}".encode())
        return _b64(mac.digest())

    def sign(self, event: TrackedEvent) -> str:
        # A flat dict by hand: dataclasses.asdict deep-copies, and tokens are on the hot path.
        values = {name: getattr(event, name) for name in _FIELDS}
        payload = _b64(orjson.dumps(values))
        return f"{VERSION}.{payload}.{self._signature(payload)}"

    def verify(self, token: str, now: float) -> TrackedEvent:
        """The event behind a token, or InvalidToken; an expired token is refused even
        when its signature is good."""
        # A token is ASCII (base64url and dots); anything else cannot be one, and
        # hmac.compare_digest refuses to compare non-ASCII str.
        parts = token.split(".") if isinstance(token, str) and token.isascii() else []
        if len(parts) != 3 or parts[0] != VERSION:
            raise InvalidToken("malformed")
        _, payload, signature = parts
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise InvalidToken("bad_signature")
        try:
            event = TrackedEvent(**json.loads(_unb64(payload)))
        except (binascii.Error, ValueError, TypeError):
            raise InvalidToken("malformed") from None
        if event.event_type not in EVENT_TYPES:
            raise InvalidToken("malformed")
        if now >= event.expires_at:
            raise InvalidToken("expired")
        return event
