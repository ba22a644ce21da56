import base64
import json
from dataclasses import replace

import pytest

from auction.tokens import CLICK, IMPRESSION, InvalidToken, TokenSigner, TrackedEvent

EVENT = TrackedEvent(
    impression_id="imp_1",
    event_type=IMPRESSION,
    request_id="req_1",
    user_id="u1",
    ad_id="ad_1",
    ad_group_id="adg_1",
    campaign_id="cmp_1",
    advertiser_id="adv_1",
    billing_event="CPM",
    charge_micros=4_321,
    position=3,
    expires_at=1_000,
)


def test_round_trip():
    signer = TokenSigner("secret")
    assert signer.verify(signer.sign(EVENT), now=999) == EVENT


def test_expired_tokens_are_refused():
    signer = TokenSigner("secret")
    with pytest.raises(InvalidToken) as error:
        signer.verify(signer.sign(EVENT), now=1_000)
    assert error.value.reason == "expired"


def test_another_secret_is_a_forgery():
    token = TokenSigner("attacker").sign(EVENT)
    with pytest.raises(InvalidToken) as error:
        TokenSigner("secret").verify(token, now=0)
    assert error.value.reason == "bad_signature"


def test_tampering_with_the_price_is_detected():
    signer = TokenSigner("secret")
    version, payload, signature = signer.sign(EVENT).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["charge_micros"] = 1
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken) as error:
        signer.verify(f"{version}.{forged}.{signature}", now=0)
    assert error.value.reason == "bad_signature"


def test_an_impression_token_is_not_a_click_token():
    signer = TokenSigner("secret")
    impression = signer.sign(EVENT)
    click = signer.sign(replace(EVENT, event_type=CLICK))
    assert impression != click
    assert signer.verify(click, now=0).event_type == CLICK


@pytest.mark.parametrize("token", ["", "v1", "v1.a.b.c", "v2.abc.def", "v1.!!!.sig", 42, None])
def test_garbage_is_malformed(token):
    with pytest.raises(InvalidToken) as error:
        TokenSigner("secret").verify(token, now=0)
    assert error.value.reason in {"malformed", "bad_signature"}


def test_a_signed_payload_that_is_not_an_event_is_malformed():
    signer = TokenSigner("secret")
    payload = base64.urlsafe_b64encode(b'{"unexpected": 1}').rstrip(b"=").decode()
    token = f"v1.{payload}.{signer._signature(payload)}"
    with pytest.raises(InvalidToken) as error:
        signer.verify(token, now=0)
    assert error.value.reason == "malformed"


@pytest.mark.parametrize("where", ["payload", "signature"])
@pytest.mark.parametrize("character", ["\u00e9", "\ud800", "\uff10"])
def test_a_token_with_a_non_ascii_character_is_malformed(where, character):
    signer = TokenSigner("secret")
    version, payload, signature = signer.sign(EVENT).split(".")
    if where == "payload":
        payload += character
    else:
        signature = signature[:-1] + character
    with pytest.raises(InvalidToken) as error:
        signer.verify(f"{version}.{payload}.{signature}", now=0)
    assert error.value.reason == "malformed"


def test_a_short_non_ascii_signature_is_malformed():
    with pytest.raises(InvalidToken) as error:
        TokenSigner("secret").verify("v1.abc.\u00e9", now=0)
    assert error.value.reason == "malformed"
