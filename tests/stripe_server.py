"""localstripe, the fake Stripe server from PyPI, as the tests run it.

``python -m tests.stripe_server --port N [--transfer-delay SECONDS]`` starts localstripe with
corrections and additions that bring it closer to the Stripe it stands in for:

- Stripe's test payment method ``pm_card_visa_chargeDeclined`` (card 4000 0000 0000 0002)
  is declined when charged; localstripe declines it only when attached to a customer.
- Nothing is written to localstripe's fixed ``/tmp/localstripe.pickle``: several test
  processes run their own servers at once, and each starts from scratch.
- Connect, which localstripe lacks: accounts (``/v1/accounts``: create, retrieve, list; the
  ``transfers`` capability is active when requested at creation) and transfers
  (``/v1/transfers``: create, retrieve, list filtered by ``transfer_group`` or
  ``destination``). A transfer to an unknown account, or to one without an active
  ``transfers`` capability, is refused with Stripe's 400 and message.
- Idempotency keys, honoured as Stripe documents them for every ``POST /v1/...``: the first
  response (success or error) is saved per API key and ``Idempotency-Key`` and replayed to
  a retry with the same parameters; other parameters or another endpoint get a 400
  ``idempotency_error``, and a retry while the first request is still running a 409.
  localstripe itself ignores the header.
- Stripe.js's ``confirmCardPayment(clientSecret, {payment_method: {card}})``, which
  localstripe's stand-in reduces to its 3-D Secure step: the script served at
  ``/js.stripe.com/v3/`` first posts the card element's values to
  ``POST /v1/payment_intents/{id}/confirm`` with the publishable key, the client secret and
  ``payment_method_data``, as Stripe.js does, and the server accepts that request (a wrong
  client secret gets Stripe's 400). A card that needs authentication then goes through the
  stand-in's "Complete authentication" step; a declined card comes back as
  ``{error: last_payment_error}``; another card may be tried on the same intent.
- ``--transfer-delay SECONDS`` (``StripeServer(transfer_delay_seconds=...)``): each transfer
  is stored, then answered only after that delay, so a client that gives up or dies in
  between leaves a transfer in Stripe without having seen it, as a crash would.

The production code talks to it through the official SDK, unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import (
    StripeObject,
    random_id,
    store,
    try_convert_to_bool,
    try_convert_to_int,
)

DECLINED_WHEN_CHARGED = "4000000000000002"
REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_TYPES = ("express", "custom", "standard")
MISSING_TRANSFERS_CAPABILITY = (
    "Your destination account needs to have at least one of the following capabilities "
    "enabled: transfers, crypto_transfers, legacy_payments"
)


def _patch_localstripe() -> None:
    from localstripe import resources

    resources.Store.dump_to_disk = lambda self: None
    charging_is_declined = resources.PaymentMethod._charging_is_declined

    def declined(self) -> bool:
        number = getattr(self, "_card_number", None)
        return number == DECLINED_WHEN_CHARGED or charging_is_declined(self)

    resources.PaymentMethod._charging_is_declined = declined


# --- Connect: accounts and transfers -----------------------------------------------------------


def _missing(param: str) -> UserError:
    return UserError(
        400, f"Missing required param: {param}.", {"code": "parameter_missing", "param": param}
    )


def _invalid(param: str, message: str) -> UserError:
    return UserError(400, message, {"code": "parameter_invalid", "param": param})


def _string_map(value, param: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid(param, f"Invalid {param}: must be a hash of strings")
    return dict(value)


class _StripeLike:
    """Mixed into a StripeObject: retrieval with Stripe's 404, lists newest first."""

    @classmethod
    def _api_retrieve(cls, id):
        found = store.get(f"{cls.object}:{id}")
        if found is None:
            raise UserError(
                404, f"No such {cls.object}: '{id}'", {"code": "resource_missing", "param": "id"}
            )
        return found

    @classmethod
    def _newest_first(cls, url, limit, starting_after, keep):
        listed = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        listed._list = [item for item in reversed(listed._list) if keep(item)]
        return listed


class Account(_StripeLike, StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(
        self,
        type=None,
        country=None,
        email=None,
        capabilities=None,
        metadata=None,
        business_type=None,
        **unexpected,
    ):
        if unexpected:
            raise UserError(400, "Unexpected " + ", ".join(unexpected))
        if type is None:
            raise _missing("type")
        if type not in ACCOUNT_TYPES:
            raise _invalid("type", f"Invalid type: must be one of {', '.join(ACCOUNT_TYPES)}")
        if country is not None and not (isinstance(country, str) and len(country) == 2):
            raise _invalid("country", f"Invalid country: {country!r}")
        if email is not None and not isinstance(email, str):
            raise _invalid("email", "Invalid email")
        if capabilities is not None and not isinstance(capabilities, dict):
            raise _invalid("capabilities", "Invalid capabilities: must be a hash")
        requested = set()
        for name, ask in (capabilities or {}).items():
            if not isinstance(ask, dict):
                raise _invalid(f"capabilities[{name}]", "Invalid hash")
            if try_convert_to_bool(ask.get("requested")) is True:
                requested.add(name)
        metadata = _string_map(metadata, "metadata")

        # All exceptions must be raised before this point.
        super().__init__()

        self.type = type
        self.country = (country or "US").upper()
        self.email = email
        self.business_type = business_type
        self.capabilities = {"transfers": "inactive"} | {name: "active" for name in requested}
        self.charges_enabled = self.capabilities.get("card_payments") == "active"
        self.payouts_enabled = self.capabilities["transfers"] == "active"
        self.details_submitted = True
        self.metadata = metadata

    @classmethod
    def _api_list_all(cls, url, limit=None, starting_after=None, **unexpected):
        if unexpected:
            raise UserError(400, "Unexpected " + ", ".join(unexpected))
        return cls._newest_first(url, limit, starting_after, lambda account: True)


class Transfer(_StripeLike, StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(
        self,
        amount=None,
        currency=None,
        destination=None,
        transfer_group=None,
        description=None,
        metadata=None,
        **unexpected,
    ):
        if unexpected:
            raise UserError(400, "Unexpected " + ", ".join(unexpected))
        for param, value in (
            ("amount", amount),
            ("currency", currency),
            ("destination", destination),
        ):
            if value is None:
                raise _missing(param)
        amount = try_convert_to_int(amount)
        if type(amount) is not int or amount <= 0:
            raise _invalid("amount", "Invalid positive integer")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise _invalid("currency", f"Invalid currency: {currency}")
        for param, value in (("transfer_group", transfer_group), ("description", description)):
            if value is not None and not isinstance(value, str):
                raise _invalid(param, f"Invalid {param}")
        metadata = _string_map(metadata, "metadata")
        account = store.get(f"account:{destination}") if isinstance(destination, str) else None
        if account is None:
            raise UserError(
                400,
                f"No such destination: '{destination}'",
                {"code": "resource_missing", "param": "destination"},
            )
        if account.capabilities.get("transfers") != "active":
            raise UserError(
                400,
                MISSING_TRANSFERS_CAPABILITY,
                {"code": "insufficient_capabilities_for_transfer", "param": "destination"},
            )

        # All exceptions must be raised before this point.
        super().__init__()

        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency.lower()
        self.destination = destination
        self.destination_payment = f"py_{random_id(24)}"
        self.balance_transaction = f"txn_{random_id(24)}"
        self.transfer_group = transfer_group
        self.description = description
        self.metadata = metadata
        self.reversed = False
        self.reversals = {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/transfers/{self.id}/reversals",
        }
        self.source_transaction = None
        self.source_type = "card"

    @classmethod
    def _api_list_all(
        cls,
        url,
        destination=None,
        transfer_group=None,
        limit=None,
        starting_after=None,
        **unexpected,
    ):
        if unexpected:
            raise UserError(400, "Unexpected " + ", ".join(unexpected))

        def keep(transfer: Transfer) -> bool:
            return (destination is None or transfer.destination == destination) and (
                transfer_group is None or transfer.transfer_group == transfer_group
            )

        return cls._newest_first(url, limit, starting_after, keep)


def _answered_after(handler, seconds: float):
    """The handler, whose answer is held back ``seconds`` after the work is done."""

    async def late(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        await asyncio.sleep(seconds)
        return response

    return late


# --- idempotency keys --------------------------------------------------------------------------


@dataclass
class _Saved:
    path: str
    params: str
    status: int | None = None  # None while the first request is still running
    body: bytes = b""


_saved: dict[tuple[str, str], _Saved] = {}


def _idempotency_error(status: int, message: str) -> web.Response:
    body = {"error": {"type": "idempotency_error", "message": message}}
    return web.json_response(body, status=status)


async def _response_of(handler, request: web.Request) -> web.StreamResponse:
    try:
        return await handler(request)
    except UserError as error:  # saved like any other answer, as Stripe saves its 400s
        return error.to_response()


def _save(slot: tuple[str, str], saved: _Saved, work: asyncio.Future) -> None:
    response = None if work.cancelled() or work.exception() else work.result()
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        saved.status, saved.body = response.status, response.body
    else:  # nothing to replay: the next request with this key runs afresh
        _saved.pop(slot, None)


@web.middleware
async def idempotency_middleware(request: web.Request, handler) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    from localstripe.server import get_api_key, get_post_data

    params = json.dumps(await get_post_data(request, remove_auth=False) or {}, sort_keys=True)
    slot = (get_api_key(request) or "", key)
    saved = _saved.get(slot)
    if saved is None:
        saved = _saved[slot] = _Saved(request.path, params)
        # Shielded: a client that hangs up does not stop the work, nor the saving of its answer.
        work = asyncio.ensure_future(_response_of(handler, request))
        work.add_done_callback(functools.partial(_save, slot, saved))
        return await asyncio.shield(work)
    if saved.path != request.path:
        return _idempotency_error(
            400,
            f"Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{saved.path}' vs '{request.path}'). Try using a key other than "
            f"'{key}' if you meant to execute a different request.",
        )
    if saved.params != params:
        return _idempotency_error(
            400,
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
        )
    if saved.status is None:
        return _idempotency_error(
            409,
            "There is currently another in-progress request using this Idempotency-Key (sent "
            "with the same API key). Wait for it to complete, then retry.",
        )
    return web.Response(
        status=saved.status,
        body=saved.body,
        content_type="application/json",
        charset="utf-8",
        headers={"Idempotent-Replayed": "true"},
    )


# --- Stripe.js: the browser confirms the intent with the card it collected ---------------------

# Appended to localstripe's stand-in (so its LOCALSTRIPE_BASE_API and Stripe are in scope).
STRIPE_JS_CONFIRM = """
// tests/stripe_server.py: confirmCardPayment sends the card, as Stripe.js does.
(function () {
  const standIn = Stripe;
  Stripe = function (apiKey) {
    const stripe = standIn(apiKey);
    const standInAuthenticate = stripe.confirmCardPayment;  // the stand-in's 3-D Secure step
    // Stripe.js answers a failed payment or authentication with an error, not the intent.
    const refusedAsError = (result) => {
      const intent = result.paymentIntent;
      if (intent && intent.status === 'requires_payment_method') {
        return {error: {...intent.last_payment_error, payment_intent: intent}};
      }
      return result;
    };
    const authenticate = async (clientSecret, data) =>
      refusedAsError(await standInAuthenticate(clientSecret, data));
    stripe.confirmCardPayment = async (clientSecret, data) => {
      const card = data && data.payment_method && data.payment_method.card;
      if (!card || !card.value) {
        return authenticate(clientSecret, data);
      }
      const intent = clientSecret.match(/^(pi_\\w+)_secret_/)[1];
      const response = await fetch(
        `${LOCALSTRIPE_BASE_API}/v1/payment_intents/${intent}/confirm`, {
          method: 'POST',
          body: JSON.stringify({
            key: apiKey,
            client_secret: clientSecret,
            payment_method_data: {type: 'card', card: card.value.card},
          }),
        });
      const body = await response.json().catch(() => ({}));
      if (response.status !== 200 || body.error) {
        return {error: body.error || {message: 'Stripe did not answer.'}};
      }
      if (body.status === 'requires_action') {
        return authenticate(clientSecret, data);
      }
      return refusedAsError({paymentIntent: body});
    };
    return stripe;
  };
})();
"""
CONFIRM_PATH = re.compile(r"/v1/payment_intents/(pi_\w+)/confirm")


@web.middleware
async def stripe_js_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Before localstripe's authentication, which knows only the secret key on this path:
    a confirmation from Stripe.js (publishable key, client secret, the card), and the
    script that sends it."""
    if request.method == "GET" and request.path == "/js.stripe.com/v3/":
        stand_in = await handler(request)
        return web.Response(
            text=stand_in.text + STRIPE_JS_CONFIRM, content_type="application/javascript"
        )
    found = CONFIRM_PATH.fullmatch(request.path)
    if request.method != "POST" or found is None:
        return await handler(request)
    from localstripe.server import get_post_data, json_response

    data = await get_post_data(request, remove_auth=False)
    if not str(data.get("key", "")).startswith("pk_"):
        return await handler(request)  # the server's own confirmation, with the secret key
    return json_response(_confirm_from_browser(found.group(1), data)._export())


def _confirm_from_browser(intent_id: str, data: dict):
    from localstripe.resources import PaymentIntent, PaymentMethod

    intent = PaymentIntent._api_retrieve(intent_id)
    if data.get("client_secret") != intent.client_secret:
        raise _invalid(
            "client_secret",
            "The client_secret provided does not match the client_secret associated with "
            "the PaymentIntent.",
        )
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        raise UserError(
            400,
            f"This PaymentIntent's status is {intent.status}; it cannot be confirmed.",
            {"code": "payment_intent_unexpected_state"},
        )
    method_data = data.get("payment_method_data")
    if not isinstance(method_data, dict):
        raise _missing("payment_method_data")
    method = PaymentMethod._api_create(**method_data)
    # A new card is a new attempt: the failed charge of the last one no longer counts.
    intent.payment_method, intent.latest_charge, intent.next_action = method.id, None, None
    return PaymentIntent._api_confirm(intent.id)


def _install_additions(transfer_delay_seconds: float) -> None:
    from localstripe import server

    for cls in (Account, Transfer):
        collection = f"/v1/{cls.object}s"
        create = server.api_create(cls, collection)
        if cls is Transfer and transfer_delay_seconds > 0:
            create = _answered_after(create, transfer_delay_seconds)
        server.app.router.add_route("POST", collection, create)
        server.app.router.add_route(
            "GET", collection + "/{id}", server.api_retrieve(cls, collection + "/{id}")
        )
        server.app.router.add_route("GET", collection, server.api_list_all(cls, collection))
    # Innermost, after authentication: the key is scoped to the API key, and localstripe's
    # errors are turned into responses here so that they are saved too.
    server.app.middlewares.append(idempotency_middleware)
    # After localstripe's error middleware (so refusals become Stripe's error answers) and
    # before its authentication.
    server.app.middlewares.insert(1, stripe_js_middleware)


# --- the process -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StripeServer:
    """A localstripe process on a free port, for as long as the tests need it."""

    api_key = "sk_test_adsmanager"
    publishable_key = "pk_test_adsmanager"

    def __init__(self, transfer_delay_seconds: float = 0.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.transfer_delay_seconds = transfer_delay_seconds
        command = [sys.executable, "-m", "tests.stripe_server", "--port", str(self.port)]
        if transfer_delay_seconds:
            command += ["--transfer-delay", str(transfer_delay_seconds)]
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{self.url}/js.stripe.com/v3/", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)

    def send_webhooks_to(self, url: str, secret: str, name: str = "adsmanager") -> None:
        response = requests.post(
            f"{self.url}/_config/webhooks/{name}", json={"url": url, "secret": secret}, timeout=5
        )
        response.raise_for_status()

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()


if __name__ == "__main__":
    ours = argparse.ArgumentParser(add_help=False)
    ours.add_argument("--transfer-delay", type=float, default=0.0)
    options, localstripe_args = ours.parse_known_args()
    sys.argv[1:] = [*localstripe_args, "--from-scratch"]
    _patch_localstripe()
    _install_additions(options.transfer_delay)
    from localstripe.server import start

    start()
