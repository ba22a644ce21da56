"""Signing in and out of the web pages, as a browser does it: fetch the form, post it back
with its CSRF token, follow the cookie."""

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from flask import g
from werkzeug.exceptions import NotFound

from adsmanager import create_app
from adsmanager.cli import main
from adsmanager.services import users
from adsmanager.services.access import Actor
from adsmanager.vocabulary import Role
from adsmanager.web.auth import WRONG_CREDENTIALS, signed_in

PASSWORD = "correct horse battery"
EMAIL = "ops@example.com"


@pytest.fixture
def admin_user(db):
    return users.create_user(db, EMAIL, PASSWORD, Role.ADMIN, None, datetime.now(UTC))


def csrf_token(client, path: str = "/sign-in") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the form carries a CSRF token"
    return match.group(1)


def sign_in(client, email: str = EMAIL, password: str = PASSWORD, **extra):
    form = {"csrf_token": csrf_token(client), "email": email, "password": password, **extra}
    return client.post("/sign-in", data=form)


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_the_home_page_sends_a_stranger_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/"


def test_the_sign_in_form_is_labelled_and_mobile_ready(client):
    html = client.get("/sign-in").get_data(as_text=True)
    assert '<meta name="viewport"' in html
    assert 'href="#main"' in html and 'id="main"' in html
    assert '<label for="email">' in html and 'id="email"' in html
    assert '<label for="password">' in html and 'id="password"' in html
    assert "<script" not in html
    css = client.get(re.search(r'href="([^"]+\.css)"', html).group(1))
    assert css.status_code == 200


def test_sign_in_and_out(client, admin_user):
    response = sign_in(client, email="OPS@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert EMAIL in html and "admin" in html
    assert home.headers["Cache-Control"] == "no-store"
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert "You are signed out." in client.get("/sign-in").get_data(as_text=True)
    assert not is_signed_in(client)


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(client, admin_user):
    response = sign_in(client, next="/?tab=1")
    assert response.headers["Location"] == "/?tab=1"
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = sign_in(client, next=target)
        assert response.headers["Location"] == "/", target
        client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})


def test_a_wrong_password_and_an_unknown_email_look_the_same(client, admin_user):
    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, email="nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert WRONG_CREDENTIALS in response.get_data(as_text=True)
    assert wrong.get_data(as_text=True).replace(EMAIL, "x") == unknown.get_data(
        as_text=True
    ).replace("nobody@example.com", "x").replace(
        re.search(r'csrf_token" value="([^"]+)"', unknown.get_data(as_text=True)).group(1),
        re.search(r'csrf_token" value="([^"]+)"', wrong.get_data(as_text=True)).group(1),
    )
    assert not is_signed_in(client)


def test_a_post_without_a_csrf_token_is_rejected_and_signs_nobody_in(client, admin_user):
    client.get("/sign-in")  # a session exists, as in a browser that saw the form
    response = client.post("/sign-in", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    forged = client.post(
        "/sign-in", data={"csrf_token": "forged", "email": EMAIL, "password": PASSWORD}
    )
    assert forged.status_code == 400
    assert not is_signed_in(client)


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(app, client, admin_user):
    sign_in(client)
    elsewhere = app.test_client()
    assert sign_in(elsewhere).status_code == 302  # the same user in another browser
    copied = app.test_client()
    copied.set_cookie("session", client.get_cookie("session").value)
    assert is_signed_in(copied)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    # A session is a signed cookie: what signing out can take back is the version it names,
    # so a copy stops working, and so does the user's session in any other browser.
    assert not is_signed_in(copied)
    assert not is_signed_in(elsewhere)
    assert sign_in(client).status_code == 302 and is_signed_in(client)


def test_sign_out_needs_the_csrf_token(client, admin_user):
    sign_in(client)
    assert client.post("/sign-out").status_code == 400
    assert is_signed_in(client)


def test_a_token_from_another_session_does_not_count(app, client, admin_user):
    other = app.test_client()
    token = csrf_token(other)
    client.get("/sign-in")
    response = client.post(
        "/sign-in", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert not is_signed_in(client)


def test_the_sixth_failed_attempt_is_refused_even_with_the_right_password(client, admin_user):
    for _ in range(5):
        assert WRONG_CREDENTIALS in sign_in(client, password="not the password").get_data(
            as_text=True
        )
    refused = sign_in(client)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.get_data(as_text=True)
    assert not is_signed_in(client)


def test_a_disabled_users_session_stops_working(client, db, admin_user):
    sign_in(client)
    assert is_signed_in(client)
    users.set_disabled(db, admin_user.id, True)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    users.set_disabled(db, admin_user.id, False)
    assert not is_signed_in(client)  # enabling again does not revive the old session


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[0]


def test_session_cookie_flags(client, admin_user):
    cookie = _session_cookie(client.get("/sign-in"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the embedded demo runs on plain http
    signed_in_cookie = _session_cookie(sign_in(client))
    assert "HttpOnly" in signed_in_cookie and "SameSite=Lax" in signed_in_cookie
    assert "Expires=" in signed_in_cookie  # a permanent session: 12 hours, not forever


def test_session_cookie_is_secure_when_the_setting_is_on(database_url):
    app = create_app({"database_url": database_url, "secret_key": "s", "secure_cookies": True})
    cookie = _session_cookie(app.test_client().get("/sign-in"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_come_from_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("ADSMANAGER_SECURE_COOKIES", "true")
    app = create_app({"database_url": database_url, "secret_key": "s"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_the_api_takes_posts_without_csrf_tokens(client, admin, admin_user):
    sign_in(client)  # even with a session cookie in the same client
    response = admin.post(
        "/v1/advertisers", json={"name": "Acme", "currency": "USD", "timezone": "UTC"}
    )
    assert response.status_code == 201, response.json


def test_signed_in_redirects_strangers_and_hides_pages_from_other_roles(app):
    @signed_in(Role.FINANCE)
    def finance_page():
        return "payout runs"

    with app.test_request_context("/payouts?run=1"):
        g.user = None
        response = finance_page()
        assert response.status_code == 302
        assert response.headers["Location"] == "/sign-in?next=/payouts?run%3D1"
    for role, allowed in ((Role.FINANCE, True), (Role.ADMIN, False), (Role.ADVERTISER, False)):
        with app.test_request_context("/payouts"):
            g.user = users.SignedIn(Actor(id="usr_x", role=role), "x@example.com", 1)
            if allowed:
                assert finance_page() == "payout runs"
            else:
                with pytest.raises(NotFound):
                    finance_page()


def test_users_create_on_the_command_line_then_sign_in(database_url, monkeypatch, client, acme):
    monkeypatch.setenv("ADSMANAGER_DATABASE_URL", database_url)
    runner = CliRunner()
    args = ["users", "create", "--email", "Ann@Example.com", "--role", "advertiser"]
    result = runner.invoke(
        main, [*args, "--advertiser", acme[0]["id"]], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "ann@example.com" in result.output
    listed = runner.invoke(main, ["users", "list"]).output
    assert "ann@example.com" in listed and acme[0]["id"] in listed and "active" in listed
    sign_in(client, email="ann@example.com")
    assert acme[0]["id"] in client.get("/").get_data(as_text=True)

    mismatch = runner.invoke(main, args, input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n")
    assert "do not match" in mismatch.output.lower()
    short = runner.invoke(
        main, ["users", "create", "--email", "b@example.com", "--role", "admin"], input="x\nx\n"
    )
    assert short.exit_code != 0 and "at least 12" in short.output

    disabled = runner.invoke(main, ["users", "disable", "ann@example.com"])
    assert disabled.exit_code == 0
    assert not is_signed_in(client)


def test_the_clients_address_comes_from_trusted_proxies_only(app, client, db, database_url):
    from sqlalchemy import select

    from adsmanager import create_app
    from adsmanager.db.users import SignInAttempt

    def addresses() -> list[str]:
        with db.read() as session:
            return list(session.scalars(select(SignInAttempt.ip).order_by(SignInAttempt.at)))

    def fail_from(test_client) -> None:
        form = {"csrf_token": csrf_token(test_client), "email": EMAIL, "password": "wrong"}
        headers = {"X-Forwarded-For": "198.51.100.7"}
        assert test_client.post("/sign-in", data=form, headers=headers).status_code == 200

    fail_from(client)
    assert addresses() == ["127.0.0.1"]  # a header anyone can send is not believed
    behind_a_proxy = create_app(
        {"database_url": database_url, "secret_key": "test-secret", "trusted_proxies": 1}
    )
    try:
        fail_from(behind_a_proxy.test_client())
    finally:
        behind_a_proxy.extensions["adsmanager.db"].dispose()
    assert addresses() == ["127.0.0.1", "198.51.100.7"]


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "//evil.example",
        "/ /evil.example",
        "https://evil.example/",
        "/\x00/evil.example",
    ],
)
def test_next_never_leads_to_another_site(client, admin_user, target):
    signed_in = sign_in(client, next=target)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    again = client.get("/sign-in", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_next_keeps_a_path_of_this_site(client, admin_user):
    signed_in = sign_in(client, next="/finance/payout-runs?status=DRAFT")
    assert signed_in.headers["Location"] == "/finance/payout-runs?status=DRAFT"


def test_the_home_page_title_is_plain_text(client, admin_user):
    sign_in(client)
    assert "<title>Home · Ads Manager</title>" in client.get("/").get_data(as_text=True)
