"""The dependency arrows point one way: adsmanager → auction, billing; never back."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


def test_import_contracts_hold():
    """import-linter's contracts in pyproject.toml (run apart: it reconfigures logging)."""
    result = _run(str(Path(sys.executable).with_name("lint-imports")), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("package", ["auction", "billing"])
def test_pure_packages_import_without_the_web_stack(package):
    """Importing them alone loads no Flask, SQLAlchemy or adsmanager module."""
    code = (
        f"import sys, {package}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'adsmanager', 'werkzeug'}); "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_worker_does_not_load_the_stripe_sdk_until_it_talks_to_stripe(tmp_path):
    """The SDK costs every process about 10 MB; auction workers never use it."""
    code = (
        "import sys\n"
        "from adsmanager import create_app\n"
        f"create_app({{'database_url': 'sqlite:///{tmp_path}/x.db', 'secret_key': 'x'}})\n"
        "assert 'stripe' not in sys.modules, 'the app imported the Stripe SDK'\n"
        "from billing.stripe_gateway import StripeGateway\n"
        "StripeGateway('sk_test_x')\n"
        "assert 'stripe' in sys.modules\n"
    )
    env = {**os.environ, "ADSMANAGER_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
