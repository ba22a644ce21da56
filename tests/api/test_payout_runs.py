"""Payout runs and fund rules through the API: who may do what, the answers' shapes, and
errors that write nothing."""

from __future__ import annotations

import csv
import io

import pytest

from tests.factories import count_rows
from tests.fund_data import YESTERDAY, add_creator, trailing_views, views

RUNS = "/v1/payout-runs"


@pytest.fixture
def creators(db, admin):
    admin.post(
        "/v1/fund/rules",
        json={"rules": {"pool_mode": "FIXED", "fixed_pool_micros_per_day": 100_000_000}},
    )
    for name, qualified in (("alice", 3_000), ("bob", 1_000)):
        add_creator(db, name)
        trailing_views(db, name, YESTERDAY, 5_000)
        views(db, name, YESTERDAY, qualified)
    add_creator(db, "minor", verified_age=15)


def compute(api):
    return api.post(RUNS, json={"period": YESTERDAY.isoformat()})


def test_rules_are_versioned_and_only_admins_change_them(admin, finance, feed):
    first = admin.get("/v1/fund/rules")
    assert first.status_code == 200
    assert first.json["version"] == 1
    assert first.json["rules"]["minimum_payout_micros"] == 10_000_000
    assert first.json["rules"]["pool_mode"] == "REVENUE_SHARE"

    changed = admin.post(
        "/v1/fund/rules", json={"rules": {"cap_micros": 500_000_000}, "note": "cap big creators"}
    )
    assert changed.status_code == 201
    assert changed.json["version"] == 2
    assert changed.json["rules"]["cap_micros"] == 500_000_000
    assert changed.json["rules"]["min_age"] == 18  # unchanged fields are kept
    assert finance.get("/v1/fund/rules").json["version"] == 2
    assert [v["version"] for v in finance.get("/v1/fund/rules/versions").json] == [2, 1]
    assert finance.get("/v1/fund/rules/versions/1").json["rules"]["cap_micros"] is None
    assert finance.post("/v1/fund/rules", json={"rules": {"min_age": 21}}).status_code == 403
    assert feed.get("/v1/fund/rules").status_code == 403


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"cap_micros": 1_234_567}, "rules.cap_micros"),  # not a whole cent
        ({"revenue_share_ppm": 1_000_001}, "rules.revenue_share_ppm"),
        ({"countries": ["XX"]}, "rules.countries.0"),
        ({"currency": "usd"}, "rules.currency"),
        ({"min_age": "18"}, "rules.min_age"),
        ({"surprise": 1}, "rules.surprise"),
    ],
)
def test_bad_rules_are_a_422_naming_the_rule_and_write_no_version(admin, rules, field):
    response = admin.post("/v1/fund/rules", json={"rules": rules})
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_failed"
    assert list(response.json["fields"]) == [field]
    assert admin.get("/v1/fund/rules/versions").json[0]["version"] == 1


def test_finance_computes_reviews_and_approves_a_run(finance, admin, creators):
    created = compute(finance)
    assert created.status_code == 201, created.json
    run = created.json
    assert run["status"] == "DRAFT"
    assert run["period_kind"] == "DAY"
    assert run["period_start"] == run["period_end"] == YESTERDAY.isoformat()
    assert run["pool_micros"] == 100_000_000
    assert run["totals"]["payable_creators"] == 2
    assert run["transfer_group"] == f"payout-run:{run['id']}"
    assert run["rate_micros_per_weight"] == "25000.000000000"

    page = finance.get(f"{RUNS}/{run['id']}/lines?page_size=2").json
    assert len(page["items"]) == 2 and page["next_page_token"]
    rest = finance.get(f"{RUNS}/{run['id']}/lines?page_token={page['next_page_token']}").json
    lines = {line["creator_id"]: line for line in page["items"] + rest["items"]}
    assert set(lines) == {"alice", "bob", "minor"}
    assert lines["alice"]["share_micros"] == 75_000_000
    assert lines["alice"]["exact_share_micros"] == "75000000.000000"
    assert lines["minor"]["eligible"] is False
    assert lines["minor"]["exclusions"] == [
        "under_minimum_age",
        "too_few_trailing_qualified_views",
        "no_qualified_views_in_period",
    ]
    excluded = finance.get(f"{RUNS}/{run['id']}/lines?status=EXCLUDED").json["items"]
    assert [line["creator_id"] for line in excluded] == ["minor"]

    explained = finance.get(f"{RUNS}/{run['id']}/lines/alice").json
    assert explained["payable_micros"] == 75_000_000
    assert any("Weight 3,000" in sentence for sentence in explained["explanation"])

    export = finance.get(f"{RUNS}/{run['id']}/export")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert {row["creator_id"]: int(row["payable_micros"]) for row in rows} == {
        "alice": 75_000_000,
        "bob": 25_000_000,
        "minor": 0,
    }

    assert admin.post(f"{RUNS}/{run['id']}/approve").status_code == 403
    approved = finance.post(f"{RUNS}/{run['id']}/approve")
    assert approved.status_code == 200
    assert approved.json["status"] == "APPROVED"
    assert approved.json["approved_by"]
    again = finance.post(f"{RUNS}/{run['id']}/approve")
    assert again.status_code == 409 and again.json["code"] == "run_not_draft"
    recompute = compute(finance)
    assert recompute.status_code == 409 and recompute.json["code"] == "run_already_approved"
    assert [r["id"] for r in finance.get(RUNS).json["items"]] == [run["id"]]


def test_a_draft_of_the_old_currency_is_a_409_to_approve(finance, admin, creators):
    run = compute(finance).json
    changed = admin.post("/v1/fund/rules", json={"rules": {"currency": "EUR"}})
    assert changed.status_code == 201

    refused = finance.post(f"{RUNS}/{run['id']}/approve")

    assert refused.status_code == 409
    assert refused.json["code"] == "currency_changed"
    assert "compute" in refused.json["message"]
    assert finance.get(f"{RUNS}/{run['id']}").json["status"] == "DRAFT"
    again = compute(finance).json
    assert again["currency"] == "EUR"
    assert finance.post(f"{RUNS}/{again['id']}/approve").status_code == 200


def test_a_report_and_a_chart_of_the_payouts(finance, creators):
    run = compute(finance).json
    report = finance.get(f"{RUNS}/{run['id']}/report").json
    assert report["distribution"]["creators_paid"] == 2
    assert report["distribution"]["max_micros"] == 75_000_000
    assert report["distribution"]["median_micros"] == 75_000_000
    assert 0 < report["distribution"]["gini"] < 1
    assert report["totals"]["exclusions"]["under_minimum_age"] == 1
    chart = finance.get(f"{RUNS}/{run['id']}/distribution.png")
    assert chart.status_code == 200 and chart.mimetype == "image/png"
    assert chart.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "period", ["2026-13", "yesterday", "", "2026-02-30", "0001-01-05", "0001-01"]
)
def test_a_bad_period_is_a_422_and_writes_nothing(finance, db, creators, period):
    response = finance.post(RUNS, json={"period": period})
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert count_rows(db, "payout_runs") == 0


def test_who_may_see_and_touch_runs(finance, admin, feed, acme, creators):
    _, advertiser = acme
    run = compute(finance).json
    assert admin.get(f"{RUNS}/{run['id']}").status_code == 200
    assert feed.get(RUNS).status_code == 403
    assert advertiser.get(f"{RUNS}/{run['id']}").status_code == 403
    assert advertiser.post(RUNS, json={"period": YESTERDAY.isoformat()}).status_code == 403
    assert finance.get(f"{RUNS}/run_unknown").status_code == 404
    assert finance.get(f"{RUNS}/{run['id']}/lines/nobody").status_code == 404
    assert finance.post(f"{RUNS}/{run['id']}/pay").status_code == 409  # not approved yet
    assert finance.delete(f"{RUNS}/{run['id']}").status_code == 204
    assert count_rows(db_of(finance), "payout_lines") == 0


def db_of(api):
    return api._client.application.extensions["adsmanager.db"]
