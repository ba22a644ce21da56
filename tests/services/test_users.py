"""Users who sign in: validation, password hashing, and the sign-in rate limit."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from adsmanager.db.users import SignInAttempt, User
from adsmanager.services import users
from adsmanager.services.errors import InvalidInput
from adsmanager.vocabulary import Role

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def advertiser_id(acme) -> str:
    return acme[0]["id"]


@pytest.fixture
def alice(db, advertiser_id) -> User:
    return users.create_user(db, " Alice@Example.COM ", PASSWORD, "advertiser", advertiser_id, NOW)


def test_create_user_stores_a_lower_cased_email_and_a_scrypt_hash(db, alice, advertiser_id):
    assert alice.id.startswith("usr_")
    with db.read() as session:
        stored = session.get(User, alice.id)
    assert stored.email == "alice@example.com"
    assert stored.role is Role.ADVERTISER and stored.advertiser_id == advertiser_id
    assert not stored.disabled and stored.last_sign_in_at is None
    assert PASSWORD not in stored.password_hash
    assert stored.password_hash.startswith("scrypt:32768:8:1$")
    # Werkzeug's format both ways: either side reads the other's hashes.
    assert check_password_hash(stored.password_hash, PASSWORD)
    assert not check_password_hash(stored.password_hash, PASSWORD + "!")
    assert users.password_matches(generate_password_hash(PASSWORD), PASSWORD)
    assert not users.password_matches(generate_password_hash(PASSWORD), "nope")
    assert not users.password_matches(generate_password_hash(PASSWORD, "pbkdf2"), PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "role", "advertiser", "field"),
    [
        ("not-an-email", PASSWORD, "admin", False, "email"),
        ("a@b", PASSWORD, "admin", False, "email"),
        ("x@example.com", "eleven char", "admin", False, "password"),
        ("x@example.com", PASSWORD, "feed", False, "role"),
        ("x@example.com", PASSWORD, "root", False, "role"),
        ("x@example.com", PASSWORD, "advertiser", False, "advertiser_id"),
        ("x@example.com", PASSWORD, "finance", True, "advertiser_id"),
    ],
)
def test_create_user_refuses_what_breaks_a_rule(
    db, advertiser_id, email, password, role, advertiser, field
):
    with pytest.raises(InvalidInput) as raised:
        users.create_user(db, email, password, role, advertiser_id if advertiser else None, NOW)
    assert field in raised.value.fields
    assert users.list_users(db) == []


def test_create_user_refuses_an_unknown_advertiser_and_a_taken_email(db, alice):
    with pytest.raises(InvalidInput) as raised:
        users.create_user(db, "bob@example.com", PASSWORD, "advertiser", "adv_missing", NOW)
    assert "advertiser_id" in raised.value.fields
    with pytest.raises(InvalidInput) as raised:
        users.create_user(db, "ALICE@example.com", PASSWORD, "admin", None, NOW)
    assert "email" in raised.value.fields
    assert [user.email for user in users.list_users(db)] == ["alice@example.com"]


def test_authenticate_gives_the_users_actor(db, alice, advertiser_id):
    actor = users.authenticate(db, "ALICE@example.com", PASSWORD, "10.0.0.1", NOW)
    assert actor is not None
    assert (actor.id, actor.role, actor.advertiser_id) == (alice.id, Role.ADVERTISER, advertiser_id)
    assert users.get_by_email(db, "alice@example.com").last_sign_in_at == NOW
    assert users.authenticate(db, "alice@example.com", "wrong password!", "10.0.0.1", NOW) is None
    assert users.authenticate(db, "nobody@example.com", PASSWORD, "10.0.0.1", NOW) is None
    with db.read() as session:
        attempts = session.scalars(select(SignInAttempt).order_by(SignInAttempt.id)).all()
    assert [(a.email, a.succeeded) for a in attempts] == [
        ("alice@example.com", True),
        ("alice@example.com", False),
        ("nobody@example.com", False),
    ]


def test_an_unknown_email_costs_a_password_check_too(db, monkeypatch):
    checked = []
    real = users.password_matches
    monkeypatch.setattr(
        users, "password_matches", lambda stored, pw: checked.append(stored) or real(stored, pw)
    )
    assert users.authenticate(db, "nobody@example.com", PASSWORD, "10.0.0.1", NOW) is None
    assert checked == [users._DUMMY_HASH]


def test_the_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(db, alice):
    for minute in range(5):
        at = NOW + timedelta(minutes=minute)
        assert (
            users.authenticate(db, "alice@example.com", "wrong password!", "10.0.0.1", at) is None
        )
    with pytest.raises(users.TooManyAttempts):
        users.authenticate(
            db, "alice@example.com", PASSWORD, "10.0.0.9", NOW + timedelta(minutes=5)
        )
    # Refusals are not failures: the lock ends 15 minutes after the failures, not later.
    later = NOW + timedelta(minutes=4) + users.ATTEMPT_WINDOW + timedelta(seconds=1)
    assert users.authenticate(db, "alice@example.com", PASSWORD, "10.0.0.1", later) is not None


def test_a_success_starts_the_count_for_an_email_again(db, alice):
    for round_ in range(2):
        for minute in range(4):
            at = NOW + timedelta(minutes=10 * round_ + minute)
            users.authenticate(db, "alice@example.com", "wrong password!", "10.0.0.1", at)
        at = NOW + timedelta(minutes=10 * round_ + 5)
        assert users.authenticate(db, "alice@example.com", PASSWORD, "10.0.0.1", at) is not None


def test_twenty_failures_from_one_address_lock_that_address_only(db, alice):
    for attempt in range(20):
        email = f"guess{attempt}@example.com"
        assert users.authenticate(db, email, "wrong password!", "10.0.0.66", NOW) is None
    with pytest.raises(users.TooManyAttempts):
        users.authenticate(db, "alice@example.com", PASSWORD, "10.0.0.66", NOW)
    assert users.authenticate(db, "alice@example.com", PASSWORD, "10.0.0.1", NOW) is not None


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(db, alice):
    signed_in = users.sign_in(db, "alice@example.com", PASSWORD, "10.0.0.1", NOW)
    assert users.session_user(db, alice.id, signed_in.session_version) == signed_in
    users.set_disabled(db, alice.id, True)
    assert users.session_user(db, alice.id, signed_in.session_version) is None
    assert users.authenticate(db, "alice@example.com", PASSWORD, "10.0.0.1", NOW) is None
    users.set_disabled(db, alice.id, False)
    # Enabled again, the old session stays ended; a new sign-in works.
    assert users.session_user(db, alice.id, signed_in.session_version) is None
    again = users.sign_in(db, "alice@example.com", PASSWORD, "10.0.0.1", NOW)
    assert users.session_user(db, alice.id, again.session_version) == again


def test_old_attempts_can_be_forgotten(db, alice):
    users.authenticate(db, "alice@example.com", "wrong password!", "10.0.0.1", NOW)
    assert users.forget_attempts_before(db, NOW) == 0
    assert users.forget_attempts_before(db, NOW + timedelta(seconds=1)) == 1


def test_the_demo_gives_each_role_a_person_who_can_sign_in(db, acme, globex):
    from adsmanager.services import demo

    people = demo.seed_people(db, NOW)
    assert [(email, role) for email, role, _ in people] == list(demo.DEMO_PEOPLE)
    passwords = [password for _, _, password in people]
    assert len(set(passwords)) == 3 and all(len(password) >= 12 for password in passwords)
    actors = [users.authenticate(db, email, password, "", NOW) for email, _, password in people]
    assert [actor.role for actor in actors] == [role for _, role in demo.DEMO_PEOPLE]
    assert actors[2].advertiser_id == acme[0]["id"]  # "Acme" comes before "Globex"
