"""Daily engagement per video, as the feed service reports it: the fund's raw material.

A report is an idempotent upsert per (video_id, day): sent again with the same numbers it
changes nothing (not even ``updated_at``, which the clawback of paid runs looks at); sent
with new numbers it replaces the day. A batch is checked item by item; an item that breaks
a rule is written nothing and says why, while the others are written, set-based, in one
transaction: one SELECT of the creators, one of the videos' owners, one of the stored
video-days, one executemany INSERT, one executemany UPDATE.

A video belongs to one creator: the creator of its earliest stored day (or, for a video new
to us, of its first item in the batch). A report of it under anyone else, on any day, is
refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import func, select

from adsmanager.db.creator_fund import Creator, VideoEngagement
from adsmanager.db.database import Database
from adsmanager.services import csv_import
from adsmanager.services.bulk_upsert import (
    CREATED,
    LOOKUP_CHUNK,
    OWNER_CONFLICT,
    UNCHANGED,
    UPDATED,
    UpsertSpec,
    among,
    chunked,
    in_transaction,
    upsert,
)
from adsmanager.services.creators import MAX_COUNT, is_platform_id

INVALID = "invalid"
STATUSES = (CREATED, UPDATED, UNCHANGED, INVALID)

# Reasons an item is invalid.
UNKNOWN_CREATOR = "unknown_creator"
VIDEO_OF_ANOTHER_CREATOR = "video_belongs_to_another_creator"
DUPLICATE_IN_BATCH = "duplicate_in_batch"
INVALID_COUNTS = "invalid_counts"
DAY_IN_FUTURE = "day_in_future"
INVALID_ID = "invalid_id"

COUNTS = (
    "views",
    "qualified_views",
    "invalid_views",
    "watch_time_seconds",
    "likes",
    "comments",
    "shares",
)
STORED = (*COUNTS, "invalid_traffic", "counted_views")
SPEC = UpsertSpec(
    VideoEngagement.__table__, key=("video_id", "day"), compared=STORED, owner="creator_id"
)
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class ItemResult:
    status: str
    reason: str | None = None
    message: str | None = None


def tally(results: Sequence[ItemResult]) -> dict[str, int]:
    """How many items ended in each status."""
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] += 1
    return counts


def counted_views(item: Mapping[str, Any]) -> int:
    """What the fund counts: the qualified views not flagged, none on a flagged day."""
    if item.get("invalid_traffic", False):
        return 0
    return item["qualified_views"] - item.get("invalid_views", 0)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _problem(item: Mapping[str, Any], latest_day: date) -> ItemResult | None:
    """The first rule the item breaks on its own, if any."""
    for name in ("creator_id", "video_id"):
        if not is_platform_id(item.get(name)):
            return ItemResult(
                INVALID, INVALID_ID, f"{name} must be 1 to 64 characters of [A-Za-z0-9_.:-]."
            )
    day = item.get("day")
    if not isinstance(day, date) or isinstance(day, datetime):
        return ItemResult(INVALID, csv_import.MALFORMED, "day must be a date.")
    if day > latest_day:
        return ItemResult(
            INVALID, DAY_IN_FUTURE, f"day {day} is later than tomorrow (UTC), {latest_day}."
        )
    counts = {name: item.get(name, 0 if name == "invalid_views" else None) for name in COUNTS}
    wrong = [name for name, value in counts.items() if not (_whole(value) and value >= 0)]
    if wrong or any(value > MAX_COUNT for value in counts.values()):
        return ItemResult(
            INVALID,
            INVALID_COUNTS,
            f"Counts must be whole numbers from 0 to {MAX_COUNT}: {', '.join(wrong or COUNTS)}.",
        )
    if not counts["invalid_views"] <= counts["qualified_views"] <= counts["views"]:
        return ItemResult(
            INVALID,
            INVALID_COUNTS,
            "Must hold: invalid_views <= qualified_views <= views "
            f"({counts['invalid_views']}, {counts['qualified_views']}, {counts['views']}).",
        )
    if not isinstance(item.get("invalid_traffic", False), bool):
        return ItemResult(INVALID, csv_import.MALFORMED, "invalid_traffic must be true or false.")
    return None


def _row(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "video_id": item["video_id"],
        "day": item["day"],
        "creator_id": item["creator_id"],
        **{name: item.get(name, 0) for name in COUNTS},
        "invalid_traffic": item.get("invalid_traffic", False),
        "counted_views": counted_views(item),
    }


def _known_creators(session, creator_ids: set[str]) -> set[str]:
    ordered = sorted(creator_ids)
    known: set[str] = set()
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        known.update(session.scalars(select(Creator.id).where(among(session, Creator.id, chunk))))
    return known


def _owners(session, video_ids: set[str]) -> dict[str, str]:
    """The creator of each stored video's earliest day. The unique index on (video_id, day)
    finds a video's rows; a video stored under two creators (before this was checked)
    belongs to the one who reported it first."""
    e = VideoEngagement
    ordered = sorted(video_ids)
    first: dict[str, tuple[date, str]] = {}
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        rows = session.execute(
            select(e.video_id, func.min(e.day), e.creator_id)
            .where(among(session, e.video_id, chunk))
            .group_by(e.video_id, e.creator_id)
        )
        for video_id, day, creator_id in rows:
            first[video_id] = min(first.get(video_id, (day, creator_id)), (day, creator_id))
    return {video_id: creator_id for video_id, (_, creator_id) in first.items()}


def ingest(db: Database, items: Sequence[Mapping[str, Any]], now: datetime) -> list[ItemResult]:
    """Upsert a batch of video-days (mappings like the items of POST /v1/engagement; days
    as dates); what happened to each item, in order. ``now`` is when this is written: it
    becomes the ``updated_at`` of every row created or changed, and tomorrow in UTC is the
    latest day accepted."""
    latest_day = now.astimezone(UTC).date() + timedelta(days=1)
    results: list[ItemResult | None] = [None] * len(items)
    first_at: dict[tuple[str, date], int] = {}
    candidates: list[int] = []
    for index, item in enumerate(items):
        problem = _problem(item, latest_day)
        if problem:
            results[index] = problem
            continue
        key = (item["video_id"], item["day"])
        if key in first_at:
            results[index] = ItemResult(
                INVALID,
                DUPLICATE_IN_BATCH,
                f"Video {key[0]} on {key[1]} is already reported at index {first_at[key]}.",
            )
            continue
        first_at[key] = index
        candidates.append(index)
    if candidates:

        def work(session) -> list[tuple[int, str]]:
            known = _known_creators(session, {items[i]["creator_id"] for i in candidates})
            writable = [i for i in candidates if items[i]["creator_id"] in known]
            owners = _owners(session, {items[i]["video_id"] for i in writable})
            owned, moved = [], []
            for i in writable:
                owner = owners.setdefault(items[i]["video_id"], items[i]["creator_id"])
                (owned if owner == items[i]["creator_id"] else moved).append(i)
            statuses = upsert(session, SPEC, [_row(items[i]) for i in owned], now)
            return [*zip(owned, statuses, strict=True), *((i, OWNER_CONFLICT) for i in moved)]

        written = dict(in_transaction(db, work))
        for index in candidates:
            item = items[index]
            status = written.get(index)
            if status is None:
                results[index] = ItemResult(
                    INVALID, UNKNOWN_CREATOR, f"No creator {item['creator_id']} is registered."
                )
            elif status == OWNER_CONFLICT:
                results[index] = ItemResult(
                    INVALID,
                    VIDEO_OF_ANOTHER_CREATOR,
                    f"Video {item['video_id']} belongs to another creator; a report cannot "
                    "move it.",
                )
            else:
                results[index] = ItemResult(status)
    return results  # type: ignore[return-value]


CSV_COLUMNS = (
    "creator_id",
    "video_id",
    "day",
    "views",
    "qualified_views",
    "watch_time_seconds",
    "likes",
    "comments",
    "shares",
)
CSV_OPTIONAL = ("invalid_views", "invalid_traffic")  # empty or left out: 0 and false


def _parse(row: dict[str, str]) -> dict[str, Any]:
    csv_import.check_width(row)
    return {
        "creator_id": csv_import.required_text(row, "creator_id"),
        "video_id": csv_import.required_text(row, "video_id"),
        "day": csv_import.required_day(row, "day"),
        **{
            name: csv_import.required_integer(row, name)
            for name in COUNTS
            if name != "invalid_views"
        },
        "invalid_views": csv_import.integer(row, "invalid_views", default=0),
        "invalid_traffic": csv_import.boolean(row, "invalid_traffic"),
    }


def _parsed(
    file: TextIO, report: csv_import.ImportReport
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    for line, row in csv_import.rows(file, CSV_COLUMNS, CSV_OPTIONAL):
        report.rows += 1
        try:
            yield line, _parse(row)
        except csv_import.CellError as error:
            report.reject(line, csv_import.MALFORMED, str(error))
            yield line, None


def import_csv(
    db: Database,
    file: TextIO,
    clock: Callable[[], datetime],
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_rows: Callable[[int], None] | None = None,
) -> csv_import.ImportReport:
    """Ingest a CSV file of video-days (a backfill), ``batch_size`` rows to a transaction,
    with the columns ``creator_id,video_id,day,views,qualified_views,invalid_views,
    invalid_traffic,watch_time_seconds,likes,comments,shares``. A video-day that appears
    again in a later batch replaces the earlier one, as a later report would. ValueError
    when the header is not right."""
    report = csv_import.ImportReport()
    for batch in chunked(_parsed(file, report), batch_size):
        good = [(line, item) for line, item in batch if item is not None]
        results = ingest(db, [item for _, item in good], clock()) if good else []
        for (line, _), result in zip(good, results, strict=True):
            if result.status == INVALID:
                report.reject(line, result.reason or INVALID, result.message or "")
            else:
                setattr(report, result.status, getattr(report, result.status) + 1)
        if on_rows:
            on_rows(len(batch))
    return report
