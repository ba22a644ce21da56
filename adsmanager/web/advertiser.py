"""The advertiser's campaigns, ad groups and ads: list, create, edit, pause, archive.

Each form is turned into the very dict its /v1 twin takes (money typed in the advertiser's
currency becomes micros, times typed in the advertiser's time zone become UTC), loaded with
the API's schema and handed to the same service, so a page accepts and refuses exactly
what the API does. Errors are shown next to their fields and nothing is saved.

Only advertisers' users use these pages; every object is looked up through the services'
scoping, so another advertiser's id is a 404 like any unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from adsmanager.api.ad_groups.schemas import AdGroupCreateSchema, AdGroupUpdateSchema
from adsmanager.api.ads.schemas import AdCreateSchema, AdUpdateSchema
from adsmanager.api.campaigns.schemas import CampaignCreateSchema, CampaignUpdateSchema
from adsmanager.db.models import CREATIVE_FIELDS
from adsmanager.services import ad_groups, ads, advertisers, campaigns, reference
from adsmanager.services.errors import Conflict, InvalidInput
from adsmanager.vocabulary import (
    AGE_GROUPS,
    GENDERS,
    OPERATING_SYSTEMS,
    BillingEvent,
    BudgetMode,
    CallToAction,
    Objective,
    Pacing,
    Role,
    Status,
    Weekday,
)
from adsmanager.web import _db, forms
from adsmanager.web import bp as web
from adsmanager.web.auth import signed_in
from adsmanager.web.forms import Collected, Invalid
from billing.money import format_amount

bp = Blueprint("advertiser", __name__)
PER_PAGE = 50
STALE_PAGE_LINK = "That page link is not valid any more; start from the first page."
LOCAL_TIME = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
DAYPART_KEY = re.compile(r"dayparting\.([0-9]{1,2})\.(?:days|start_hour|end_hour)")
# Typed lists: separated by commas, spaces or new lines.
LIST_FIELDS = (
    "targeting.interests",
    "targeting.excluded_categories",
    "targeting.excluded_creators",
)


def _advertiser():
    return advertisers.get(_db(), g.user.actor, g.user.actor.advertiser_id)


# --- form text ↔ the API's fields --------------------------------------------------------------


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    # A time stored before the API kept times inside [1970, 9000) may not exist in the zone
    # (9999-12-31 23:30 UTC is year 10000 in Berlin): it is shown in UTC.
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return _in_zone(value, zone).strftime(LOCAL_TIME) if value else ""


def _timestamp(collected: Collected, field: str, text: str, zone: ZoneInfo) -> str | None:
    """A local date and time typed in the advertiser's zone → ISO 8601 with its offset."""
    text = text.strip()
    if not text:
        return None
    try:
        local = datetime.strptime(text, LOCAL_TIME)
    except ValueError:
        collected.errors.setdefault(field, []).append("Enter a date and time.")
        return None
    zoned = local.replace(tzinfo=zone)
    try:
        round_trip = zoned.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        # Within a day of year 1 or 9999; the API's range refuses the rest.
        collected.errors.setdefault(field, []).append("Enter a date between 1970 and 9000.")
        return None
    if round_trip != local:
        collected.errors.setdefault(field, []).append(
            f"{text.replace('T', ' ')} does not exist in {zone.key}: the clocks skip it."
        )
        return None
    return zoned.isoformat()


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


def _campaign_form(obj, advertiser) -> dict[str, Any]:
    zone = ZoneInfo(advertiser.timezone)
    return {
        "name": obj.name,
        "objective": obj.objective,
        "budget_mode": obj.budget_mode,
        "budget": format_amount(obj.budget_micros),
        "start_time": _local(obj.start_time, zone),
        "end_time": _local(obj.end_time, zone),
        "status": obj.status,
    }


def _campaign_data(form, advertiser, collected: Collected, creating: bool) -> dict[str, Any]:
    zone = ZoneInfo(advertiser.timezone)
    data: dict[str, Any] = {"name": form.get("name", "")}
    if creating:
        data |= {"objective": form.get("objective", ""), "budget_mode": form.get("budget_mode", "")}
    data["budget_micros"] = collected.amount("budget", form.get("budget", ""), advertiser.currency)
    start = _timestamp(collected, "start_time", form.get("start_time", ""), zone)
    if start is not None:
        data["start_time"] = start
    elif not creating and "start_time" not in collected.errors:
        collected.errors["start_time"] = ["Enter a date and time."]
    data["end_time"] = _timestamp(collected, "end_time", form.get("end_time", ""), zone)
    if creating:
        data["status"] = form.get("status", Status.ACTIVE)
    return _without_none(data, keep=("end_time",))


def _ad_group_form(obj, advertiser) -> dict[str, Any]:
    targeting = obj.targeting or {}
    values = {
        "name": obj.name,
        "billing_event": obj.billing_event,
        "bid": format_amount(obj.bid_micros),
        "budget_mode": obj.budget_mode or "",
        "budget": format_amount(obj.budget_micros) if obj.budget_micros else "",
        "pacing": obj.pacing,
        "frequency_cap.max_impressions": obj.frequency_cap_impressions or "",
        "frequency_cap.window_hours": obj.frequency_cap_hours or "",
        "status": obj.status,
    }
    choices = _choices()
    for name in _CHOSEN:  # in the order the picker posts them, so an untouched one is equal
        order = {code: index for index, (code, _) in enumerate(choices[name])}
        chosen = targeting.get(name) or []
        values[f"targeting.{name}"] = sorted(chosen, key=lambda code: order.get(code, len(order)))
    for field in LIST_FIELDS:
        values[field] = ", ".join(targeting.get(field.split(".")[1]) or [])
    for index, window in enumerate(obj.dayparting or []):
        values[f"dayparting.{index}.days"] = list(window["days"])
        values[f"dayparting.{index}.start_hour"] = window["start_hour"]
        values[f"dayparting.{index}.end_hour"] = window["end_hour"]
    return values


def _ad_group_data(form, advertiser, collected: Collected, creating: bool) -> dict[str, Any]:
    currency = advertiser.currency
    data: dict[str, Any] = {"name": form.get("name", "")}
    if creating:
        data["billing_event"] = form.get("billing_event", "")
    data["bid_micros"] = collected.amount("bid", form.get("bid", ""), currency)
    data["budget_mode"] = form.get("budget_mode") or None
    data["budget_micros"] = collected.amount(
        "budget", form.get("budget", ""), currency, optional=True
    )
    data["pacing"] = form.get("pacing", "")
    data["frequency_cap"] = _frequency_cap(form, collected)
    data["dayparting"] = _dayparting(form, collected)
    targeting = {name: form.getlist(f"targeting.{name}") for name in _CHOSEN}
    targeting |= {field.split(".")[1]: _words(form.get(field, "")) for field in LIST_FIELDS}
    data["targeting"] = targeting
    if creating:
        data["status"] = form.get("status", Status.ACTIVE)
    return _without_none(data, keep=("budget_mode", "budget_micros", "frequency_cap", "dayparting"))


_CHOSEN = ("countries", "languages", "age_groups", "genders", "os")


def _frequency_cap(form, collected: Collected) -> dict[str, int] | None:
    impressions = form.get("frequency_cap.max_impressions", "")
    hours = form.get("frequency_cap.window_hours", "")
    if not impressions.strip() and not hours.strip():
        return None
    cap = {
        "max_impressions": collected.integer("frequency_cap.max_impressions", impressions),
        "window_hours": collected.integer("frequency_cap.window_hours", hours),
    }
    return _without_none(cap)


def _windows(form) -> list[dict[str, Any]]:
    """The dayparting rows that have a day ticked, renumbered from 0 as the API numbers
    them, as typed; errors and the form shown again both use these numbers."""
    rows = sorted({int(found[1]) for key in form if (found := DAYPART_KEY.fullmatch(key))})
    windows = []
    for row in rows:
        days = form.getlist(f"dayparting.{row}.days")
        if days:
            windows.append(
                {
                    "days": days,
                    "start_hour": form.get(f"dayparting.{row}.start_hour", ""),
                    "end_hour": form.get(f"dayparting.{row}.end_hour", ""),
                }
            )
    return windows


def _dayparting(form, collected: Collected) -> list[dict[str, Any]] | None:
    """No row ticked means every hour (null)."""
    windows = []
    for index, typed in enumerate(_windows(form)):
        window = {"days": typed["days"]}
        for name in ("start_hour", "end_hour"):
            window[name] = collected.integer(f"dayparting.{index}.{name}", typed[name])
        windows.append(_without_none(window))
    return windows or None


def _daypart_rows(values: dict[str, Any]) -> int:
    """One row per window given, and one empty row to add another (up to the API's 50)."""
    given = [key for key in values if key.startswith("dayparting.") and key.endswith(".days")]
    return min(len(given) + 1, 50)


def _ad_form(obj, advertiser) -> dict[str, Any]:
    values = {"name": obj.name, "status": obj.status}
    for name in CREATIVE_FIELDS:
        values[f"creative.{name}"] = getattr(obj, name) or ""
    return values


def _ad_data(form, advertiser, collected: Collected, creating: bool) -> dict[str, Any]:
    def typed(name: str) -> str:
        return form.get(f"creative.{name}", "").strip()

    creative = {name: typed(name) for name in ("call_to_action", "landing_url", "display_name")}
    # As typed (line breaks matter), but browsers send a textarea's line breaks as CRLF.
    creative["caption"] = form.get("creative.caption", "").replace("\r\n", "\n")
    creative |= {name: typed(name) or None for name in ("video_url", "video_id")}
    data: dict[str, Any] = {"name": form.get("name", ""), "creative": creative}
    if creating:
        data["status"] = form.get("status", Status.ACTIVE)
    return data


def _without_none(data: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave out what could not be read (its error is noted) so the schema reports the rest."""
    return {key: value for key, value in data.items() if value is not None or key in keep}


# --- the three kinds of object ------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """What differs between campaigns, ad groups and ads; the views below are shared."""

    slug: str  # in URLs
    label: str
    service: ModuleType
    update: Callable
    create_schema: ma.Schema
    update_schema: ma.Schema
    to_form: Callable
    to_data: Callable
    names: dict[str, str]  # API field → form field, where they differ
    # Errors of fields not listed here (campaign_id: an archived parent) go to the top.
    fields: tuple[str, ...]  # the form's fields, where errors are shown

    def get(self, object_id: str):
        return self.service.get(_db(), g.user.actor, object_id)


_TARGETING_FIELDS = tuple(f"targeting.{name}" for name in _CHOSEN) + LIST_FIELDS
KINDS = {
    kind.slug: kind
    for kind in (
        Kind(
            "campaigns",
            "Campaign",
            campaigns,
            campaigns.update_campaign,
            CampaignCreateSchema(),
            CampaignUpdateSchema(),
            _campaign_form,
            _campaign_data,
            {"budget_micros": "budget"},
            ("name", "objective", "budget_mode", "budget", "start_time", "end_time", "status"),
        ),
        Kind(
            "ad-groups",
            "Ad group",
            ad_groups,
            ad_groups.update_ad_group,
            AdGroupCreateSchema(),
            AdGroupUpdateSchema(),
            _ad_group_form,
            _ad_group_data,
            {"bid_micros": "bid", "budget_micros": "budget"},
            (
                "name",
                "billing_event",
                "bid",
                "budget_mode",
                "budget",
                "pacing",
                "status",
                "frequency_cap",
                "frequency_cap.max_impressions",
                "frequency_cap.window_hours",
                "dayparting",
                *_TARGETING_FIELDS,
            ),
        ),
        Kind(
            "ads",
            "Ad",
            ads,
            ads.update_ad,
            AdCreateSchema(),
            AdUpdateSchema(),
            _ad_form,
            _ad_data,
            {},
            ("name", "status", *(f"creative.{name}" for name in CREATIVE_FIELDS)),
        ),
    )
}
PARENT = {"ad-groups": ("campaigns", "campaign_id"), "ads": ("ad-groups", "ad_group_id")}
CHILD = {"campaigns": "ad-groups", "ad-groups": "ads"}


def _kind(slug: str) -> Kind:
    return KINDS[slug]


def _shown(kind: Kind, errors: forms.Errors) -> forms.Errors:
    """Dayparting errors name rows (``dayparting.1.end_hour``): those rows are shown."""
    rows = {field for field in errors if field.startswith("dayparting.")}
    return forms.placed(errors, (*kind.fields, *rows))


# --- lists and pages ---------------------------------------------------------------------------


@bp.get("/campaigns")
@signed_in(Role.ADVERTISER)
def campaign_list():
    status = _status_filter()
    try:
        page = campaigns.list_campaigns(
            _db(),
            g.user.actor,
            advertiser_id=None,
            status=status,
            page_size=PER_PAGE,
            page_token=_page_token(),
        )
    except InvalidInput:
        abort(400, STALE_PAGE_LINK)
    return render_template(
        "advertiser/campaigns.html", page=page, status=status, advertiser=_advertiser()
    )


def _status_filter() -> Status | None:
    text = request.args.get("status", "")
    if not text:
        return None
    try:
        return Status(text)
    except ValueError:
        abort(400, f"{text!r} is not a status.")


def _page_token() -> str | None:
    return request.args.get("page_token") or None


def _children(slug: str, obj) -> Any:
    """The page of an object's children (a campaign's ad groups, an ad group's ads)."""
    page = {"advertiser_id": None, "status": _status_filter(), "page_size": PER_PAGE}
    page["page_token"] = _page_token()
    try:
        if slug == "campaigns":
            return ad_groups.list_ad_groups(_db(), g.user.actor, campaign_id=obj.id, **page)
        if slug == "ad-groups":
            return ads.list_ads(
                _db(),
                g.user.actor,
                campaign_id=None,
                ad_group_id=obj.id,
                review_status=None,
                **page,
            )
    except InvalidInput:
        abort(400, STALE_PAGE_LINK)
    return None


@bp.get("/<any(campaigns, 'ad-groups', ads):slug>/<object_id>")
@signed_in(Role.ADVERTISER)
def detail(slug: str, object_id: str):
    kind = _kind(slug)
    obj = kind.get(object_id)
    advertiser = _advertiser()
    return render_template(
        f"advertiser/{slug}_detail.html",
        kind=kind,
        obj=obj,
        children=_children(slug, obj),
        advertiser=advertiser,
        zone=ZoneInfo(advertiser.timezone),
        status=_status_filter(),
    )


# --- create and edit ---------------------------------------------------------------------------


@bp.route("/campaigns/new", methods=["GET", "POST"])
@signed_in(Role.ADVERTISER)
def new_campaign():
    return _create(KINDS["campaigns"], parent=None)


@bp.route("/<any(campaigns, 'ad-groups'):parent_slug>/<parent_id>/new", methods=["GET", "POST"])
@signed_in(Role.ADVERTISER)
def new_child(parent_slug: str, parent_id: str):
    parent = _kind(parent_slug).get(parent_id)
    if parent.status is Status.ARCHIVED:
        abort(409, f"This {_kind(parent_slug).label.lower()} is archived; nothing can be added.")
    return _create(KINDS[CHILD[parent_slug]], parent=parent)


def _create(kind: Kind, parent):
    advertiser = _advertiser()
    if request.method == "GET":
        return _form_page(kind, advertiser, parent, None, _defaults(kind), {})
    collected = Collected()
    values = _posted(kind)
    data = kind.to_data(request.form, advertiser, collected, True)
    if parent is not None:
        data[PARENT[kind.slug][1]] = parent.id
    try:
        loaded = collected.load(kind.create_schema, data, kind.names)
        with forms.service_errors(kind.names):
            created = kind.service.create(_db(), g.user.actor, loaded)
    except Invalid as invalid:
        return _form_page(kind, advertiser, parent, None, values, _shown(kind, invalid.errors), 422)
    flash(f"{kind.label} “{created.name}” created.")
    return redirect(url_for(".detail", slug=kind.slug, object_id=created.id), 303)


@bp.route("/<any(campaigns, 'ad-groups', ads):slug>/<object_id>/edit", methods=["GET", "POST"])
@signed_in(Role.ADVERTISER)
def edit(slug: str, object_id: str):
    kind = _kind(slug)
    obj = kind.get(object_id)
    if obj.status is Status.ARCHIVED:
        abort(409, f"Archived {kind.label.lower()}s cannot be changed.")
    advertiser = _advertiser()
    parent = _parent_of(kind, obj)
    shown = kind.to_form(obj, advertiser)
    if request.method == "GET":
        return _form_page(kind, advertiser, parent, obj, shown, {})
    collected = Collected()
    typed = kind.to_data(request.form, advertiser, collected, False)
    data = _changed(typed, kind.to_data(_as_posted(shown), advertiser, Collected(), False))
    try:
        loaded = collected.load(kind.update_schema, data, kind.names)
        with forms.service_errors(kind.names):
            kind.update(_db(), g.user.actor, obj.id, loaded)
    except Invalid as invalid:
        errors = _shown(kind, invalid.errors)
        return _form_page(kind, advertiser, parent, obj, _posted(kind), errors, 422)
    except Conflict as conflict:
        abort(409, conflict.message)
    flash(f"{kind.label} “{loaded.get('name', obj.name)}” saved.")
    return redirect(url_for(".detail", slug=slug, object_id=obj.id), 303)


def _as_posted(values: dict[str, Any]) -> MultiDict:
    """Form values (lists for the multi-choice fields) as a browser would post them."""
    return MultiDict(
        (key, "" if item is None else str(item))
        for key, value in values.items()
        for item in (value if isinstance(value, list) else [value])
    )


def _changed(typed: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """Only what the person changed, as a PATCH: a field typed as the form showed it is left
    alone (a time shown to the minute keeps its seconds; targeting keeps its order), and a
    creative's fields are sent one by one (the service merges them)."""
    changes = {}
    for key, value in typed.items():
        before = shown.get(key)
        if key in shown and value == before:
            continue
        if isinstance(value, dict) and isinstance(before, dict) and key == "creative":
            value = {name: item for name, item in value.items() if before.get(name) != item}
        changes[key] = value
    return changes


def _parent_of(kind: Kind, obj):
    if kind.slug not in PARENT:
        return None
    parent_slug, field = PARENT[kind.slug]
    return _kind(parent_slug).get(getattr(obj, field))


def _posted(kind: Kind) -> dict[str, Any]:
    """What was typed, to show again after an error (lists for the multi-choice fields)."""
    form = request.form
    values: dict[str, Any] = {
        key: form.get(key)
        for key in form
        if key != "csrf_token" and not key.startswith("dayparting.")
    }
    for name in _CHOSEN:
        values[f"targeting.{name}"] = form.getlist(f"targeting.{name}")
    for index, window in enumerate(_windows(form)):
        for name, value in window.items():
            values[f"dayparting.{index}.{name}"] = value
    return values


def _defaults(kind: Kind) -> dict[str, Any]:
    return {
        "campaigns": {"objective": Objective.TRAFFIC, "budget_mode": BudgetMode.DAILY},
        "ad-groups": {"billing_event": BillingEvent.CPC, "pacing": Pacing.STANDARD},
        "ads": {"creative.call_to_action": CallToAction.LEARN_MORE},
    }[kind.slug] | {"status": Status.ACTIVE}


def _form_page(kind, advertiser, parent, obj, values, errors, status: int = 200):
    return (
        render_template(
            f"advertiser/{kind.slug}_form.html",
            kind=kind,
            advertiser=advertiser,
            parent=parent,
            obj=obj,
            values=values,
            errors=errors,
            daypart_rows=_daypart_rows(values),
            choices=_choices(),
        ),
        status,
    )


def _choices() -> dict[str, list[tuple[str, str]]]:
    def pairs(values) -> list[tuple[str, str]]:
        return [(str(value), str(value).replace("_", " ").capitalize()) for value in values]

    return {
        "objective": pairs(Objective),
        "budget_mode": pairs(BudgetMode),
        "ad_group_budget_mode": [("", "No own budget (the campaign's)"), *pairs(BudgetMode)],
        "billing_event": [
            (BillingEvent.CPC, "CPC — pay per click"),
            (BillingEvent.CPM, "CPM — pay per 1000 impressions"),
        ],
        "pacing": pairs(Pacing),
        "status": [(Status.ACTIVE, "Active"), (Status.PAUSED, "Paused")],
        "countries": list(reference.countries()),
        "languages": list(reference.languages()),
        "age_groups": [(group, group) for group in AGE_GROUPS],
        "genders": pairs(GENDERS),
        "os": [(name, {"ios": "iOS"}.get(name, name.capitalize())) for name in OPERATING_SYSTEMS],
        "weekdays": [(day.value, day.value.capitalize()) for day in Weekday],
        "hours": [(str(hour), f"{hour:02d}:00") for hour in range(25)],
        "call_to_action": pairs(CallToAction),
    }


# --- pause, resume, archive --------------------------------------------------------------------


@bp.post("/<any(campaigns, 'ad-groups', ads):slug>/<object_id>/status")
@signed_in(Role.ADVERTISER)
def set_status(slug: str, object_id: str):
    kind = _kind(slug)
    obj = kind.get(object_id)
    text = request.form.get("status", "")
    try:
        loaded = forms.load(kind.update_schema, {"status": text})
        kind.update(_db(), g.user.actor, obj.id, loaded)
    except Invalid as invalid:
        abort(
            400, " ".join(message for messages in invalid.errors.values() for message in messages)
        )
    except Conflict as conflict:
        abort(409, conflict.message)
    word = "paused" if loaded["status"] is Status.PAUSED else "active again"
    flash(f"{kind.label} “{obj.name}” is {word}.")
    return redirect(url_for(".detail", slug=slug, object_id=obj.id), 303)


@bp.route("/<any(campaigns, 'ad-groups', ads):slug>/<object_id>/archive", methods=["GET", "POST"])
@signed_in(Role.ADVERTISER)
def archive(slug: str, object_id: str):
    kind = _kind(slug)
    obj = kind.get(object_id)
    if request.method == "GET":
        return render_template("advertiser/archive.html", kind=kind, obj=obj)
    kind.service.archive(_db(), g.user.actor, obj.id)
    flash(f"{kind.label} “{obj.name}” is archived.")
    return redirect(url_for(".detail", slug=slug, object_id=obj.id), 303)


@bp.app_template_filter("local_time")
def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    return _in_zone(value, zone).strftime("%Y-%m-%d %H:%M") if value else "—"


# Nested in ``web`` so its before_request (CSRF, the signed-in user) and error pages apply.
# Done once, at import: a blueprint cannot take children after an app registered it.
web.register_blueprint(bp)
