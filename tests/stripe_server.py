"""localstripe, the fake Stripe server from PyPI, as the tests run it.

``python -m tests.stripe_server --port N`` starts localstripe with two corrections that
bring it closer to the Stripe it stands in for:

- Stripe's test payment method ``pm_card_visa_chargeDeclined`` (card 4000 0000 0000 0002)
  is declined when charged; localstripe declines it only when attached to a customer.
- Nothing is written to localstripe's fixed ``/tmp/localstripe.pickle``: several test
  processes run their own servers at once, and each starts from scratch.

The production code talks to it through the official SDK, unchanged.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

DECLINED_WHEN_CHARGED = "4000000000000002"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _patch_localstripe() -> None:
    from localstripe import resources

    resources.Store.dump_to_disk = lambda self: None
    charging_is_declined = resources.PaymentMethod._charging_is_declined

    def declined(self) -> bool:
        number = getattr(self, "_card_number", None)
        return number == DECLINED_WHEN_CHARGED or charging_is_declined(self)

    resources.PaymentMethod._charging_is_declined = declined


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StripeServer:
    """A localstripe process on a free port, for as long as the tests need it."""

    api_key = "sk_test_adsmanager"
    publishable_key = "pk_test_adsmanager"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.stripe_server", "--port", str(self.port)],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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
    _patch_localstripe()
    sys.argv.append("--from-scratch")
    from localstripe.server import start

    start()
