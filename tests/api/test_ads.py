import pytest

from tests.factories import CREATIVE, count_rows, make_ad, make_ad_group, make_campaign


@pytest.fixture
def ad_group(acme):
    return make_ad_group(acme[1], make_campaign(acme[1])["id"])


def test_new_ads_wait_for_review(acme, ad_group):
    ad = make_ad(acme[1], ad_group["id"])
    assert ad["id"].startswith("ad_")
    assert ad["review_status"] == "PENDING" and ad["review_reason"] is None
    assert ad["campaign_id"] == ad_group["campaign_id"]
    assert ad["advertiser_id"] == acme[0]["id"]
    assert ad["creative"] == {**CREATIVE, "video_id": None}


def test_a_video_id_instead_of_a_url(acme, ad_group):
    creative = {**CREATIVE, "video_id": "vid_123"}
    del creative["video_url"]
    ad = make_ad(acme[1], ad_group["id"], creative=creative)
    assert ad["creative"]["video_id"] == "vid_123" and ad["creative"]["video_url"] is None


@pytest.mark.parametrize(
    ("creative", "field"),
    [
        ({**CREATIVE, "video_id": "v1"}, "creative.video_url"),  # both sources
        ({k: v for k, v in CREATIVE.items() if k != "video_url"}, "creative.video_url"),
        ({**CREATIVE, "landing_url": "javascript:alert(1)"}, "creative.landing_url"),
        ({**CREATIVE, "landing_url": "not a url"}, "creative.landing_url"),
        ({**CREATIVE, "video_url": "ftp://cdn.example.com/v.mp4"}, "creative.video_url"),
        ({**CREATIVE, "call_to_action": "CLICK_HERE"}, "creative.call_to_action"),
        ({**CREATIVE, "caption": ""}, "creative.caption"),
        ({**CREATIVE, "caption": "x" * 2201}, "creative.caption"),
        ({k: v for k, v in CREATIVE.items() if k != "display_name"}, "creative.display_name"),
    ],
)
def test_invalid_creatives_are_422_and_write_nothing(acme, ad_group, db, creative, field):
    response = acme[1].post(
        "/v1/ads", json={"ad_group_id": ad_group["id"], "name": "x", "creative": creative}
    )
    assert response.status_code == 422
    assert field in response.json["fields"], response.json["fields"]
    assert count_rows(db, "ads") == 0


def test_admin_approves_and_rejects(admin, acme, ad_group):
    api = acme[1]
    ad = make_ad(api, ad_group["id"])
    response = admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"})
    assert response.status_code == 200
    assert response.json["review_status"] == "APPROVED" and response.json["reviewed_at"]
    response = admin.post(
        f"/v1/ads/{ad['id']}/review",
        json={"decision": "REJECT", "reason": "Landing page is broken."},
    )
    assert response.json["review_status"] == "REJECTED"
    assert response.json["review_reason"] == "Landing page is broken."
    assert api.get(f"/v1/ads/{ad['id']}").json["review_reason"] == "Landing page is broken."


@pytest.mark.parametrize(
    "body",
    [{"decision": "REJECT"}, {"decision": "REJECT", "reason": " "}, {"decision": "MAYBE"}, {}],
)
def test_bad_reviews_are_422_and_change_nothing(admin, acme, ad_group, body):
    ad = make_ad(acme[1], ad_group["id"])
    response = admin.post(f"/v1/ads/{ad['id']}/review", json=body)
    assert response.status_code == 422
    assert acme[1].get(f"/v1/ads/{ad['id']}").json["review_status"] == "PENDING"


def test_the_review_queue_lists_pending_ads_of_every_advertiser(admin, acme, globex, ad_group):
    mine = make_ad(acme[1], ad_group["id"])
    theirs_api = globex[1]
    theirs = make_ad(theirs_api, make_ad_group(theirs_api, make_campaign(theirs_api)["id"])["id"])
    admin.post(f"/v1/ads/{mine['id']}/review", json={"decision": "APPROVE"})
    queue = admin.get("/v1/ads?review_status=PENDING").json["items"]
    assert [ad["id"] for ad in queue] == [theirs["id"]]


def test_editing_the_creative_sends_it_back_to_review(admin, acme, ad_group):
    api = acme[1]
    ad = make_ad(api, ad_group["id"])
    admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"})
    # A name or status change keeps the approval.
    response = api.patch(f"/v1/ads/{ad['id']}", json={"name": "Renamed", "status": "PAUSED"})
    assert response.json["review_status"] == "APPROVED"
    # Sending the same creative again changes nothing either.
    response = api.patch(f"/v1/ads/{ad['id']}", json={"creative": {"caption": CREATIVE["caption"]}})
    assert response.json["review_status"] == "APPROVED"
    response = api.patch(f"/v1/ads/{ad['id']}", json={"creative": {"caption": "New words"}})
    assert response.status_code == 200
    assert response.json["review_status"] == "PENDING"
    assert response.json["reviewed_at"] is None
    assert response.json["creative"]["caption"] == "New words"
    assert response.json["creative"]["landing_url"] == CREATIVE["landing_url"]


def test_a_review_approves_only_the_creative_the_reviewer_looked_at(admin, acme, ad_group):
    api = acme[1]
    ad = make_ad(api, ad_group["id"])
    seen = admin.get(f"/v1/ads/{ad['id']}").json["creative_version"]
    # Renaming is not a new creative.
    assert (
        api.patch(f"/v1/ads/{ad['id']}", json={"name": "Renamed"}).json["creative_version"] == seen
    )
    changed = api.patch(
        f"/v1/ads/{ad['id']}", json={"creative": {"landing_url": "https://elsewhere.example/"}}
    ).json
    assert changed["creative_version"] != seen
    stale = admin.post(
        f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE", "creative_version": seen}
    )
    assert stale.status_code == 409 and stale.json["code"] == "creative_changed"
    assert admin.get(f"/v1/ads/{ad['id']}").json["review_status"] == "PENDING"
    approved = admin.post(
        f"/v1/ads/{ad['id']}/review",
        json={"decision": "APPROVE", "creative_version": changed["creative_version"]},
    )
    assert approved.status_code == 200 and approved.json["review_status"] == "APPROVED"


def test_switching_video_source(acme, ad_group):
    api = acme[1]
    ad = make_ad(api, ad_group["id"])
    response = api.patch(f"/v1/ads/{ad['id']}", json={"creative": {"video_id": "vid_9"}})
    assert response.status_code == 200
    assert response.json["creative"]["video_id"] == "vid_9"
    assert response.json["creative"]["video_url"] is None
    response = api.patch(f"/v1/ads/{ad['id']}", json={"creative": {"video_id": None}})
    assert response.status_code == 422
    assert api.get(f"/v1/ads/{ad['id']}").json["creative"]["video_id"] == "vid_9"


def test_archived_ads_are_frozen(admin, acme, ad_group):
    api = acme[1]
    ad = make_ad(api, ad_group["id"])
    assert api.post(f"/v1/ads/{ad['id']}/archive").json["status"] == "ARCHIVED"
    assert api.patch(f"/v1/ads/{ad['id']}", json={"name": "x"}).status_code == 409
    response = admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"})
    assert response.status_code == 409


def test_ads_cannot_be_added_to_archived_ad_groups(acme, ad_group):
    api = acme[1]
    api.post(f"/v1/ad-groups/{ad_group['id']}/archive")
    response = api.post(
        "/v1/ads", json={"ad_group_id": ad_group["id"], "name": "late", "creative": CREATIVE}
    )
    assert response.status_code == 422
    assert "archived" in response.json["fields"]["ad_group_id"][0]


def test_list_filters(acme, ad_group):
    api = acme[1]
    other_group = make_ad_group(api, ad_group["campaign_id"])
    first = make_ad(api, ad_group["id"])
    second = make_ad(api, other_group["id"], status="PAUSED")
    assert [a["id"] for a in api.get(f"/v1/ads?ad_group_id={ad_group['id']}").json["items"]] == [
        first["id"]
    ]
    by_campaign = api.get(f"/v1/ads?campaign_id={ad_group['campaign_id']}").json["items"]
    assert [a["id"] for a in by_campaign] == [first["id"], second["id"]]
    assert [a["id"] for a in api.get("/v1/ads?status=PAUSED").json["items"]] == [second["id"]]
