"""Training rows in files, for backfills and for migrations from another ad server.

A file holds one row per shown ad: ``served_at`` (UTC time; ISO 8601 in CSV), ``ad_group_id``
(any stable id), ``clicked`` (0 or 1), then one column per model feature, named and ordered as
``auction.features.FEATURE_NAMES``. Parquet files also carry the feature-spec hash in their
metadata, and a file built for another feature spec is refused. Files are read in batches
(pyarrow), so millions of rows never exist as Python objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from adsmanager.db.database import Database
from adsmanager.services.training import LoggedRows, logged_chunks, logged_rows_from
from auction.features import FEATURE_NAMES, FEATURE_SPEC_HASH

COLUMNS = ("served_at", "ad_group_id", "clicked", *FEATURE_NAMES)
SPEC_KEY = b"adsmanager.feature_spec_hash"
SCHEMA = pa.schema(
    [
        pa.field("served_at", pa.timestamp("us", tz="UTC")),
        pa.field("ad_group_id", pa.string()),
        pa.field("clicked", pa.int8()),
        *(pa.field(name, pa.float64()) for name in FEATURE_NAMES),
    ],
    metadata={SPEC_KEY: FEATURE_SPEC_HASH.encode()},
)
FORMATS = (".csv", ".parquet")


def _format_of(path: Path) -> str:
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"{path.name}: training files end in .csv or .parquet")
    return path.suffix.lower()


def export_rows(
    db: Database,
    path: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Write the logged rows of ``[since, until)`` to ``path``; returns how many."""
    kind = _format_of(path)
    written = 0
    writer = pq.ParquetWriter(path, SCHEMA) if kind == ".parquet" else None
    csv_writer = None
    try:
        for X, y, served_at, ad_group_ids in logged_chunks(db, since, until):
            batch = _batch(X, y, served_at, ad_group_ids)
            if writer is not None:
                writer.write_batch(batch)
            else:
                if csv_writer is None:
                    csv_writer = pa_csv.CSVWriter(path, SCHEMA)
                csv_writer.write_batch(batch)
            written += len(y)
            if on_rows:
                on_rows(len(y))
    finally:
        if writer is not None:
            writer.close()
        if csv_writer is not None:
            csv_writer.close()
    if kind == ".csv" and csv_writer is None:
        path.write_text(",".join(COLUMNS) + "\n")
    return written


def _batch(X, y, served_at, ad_group_ids) -> pa.RecordBatch:
    columns = [
        pa.array(served_at.astype("datetime64[us]"), pa.timestamp("us")).cast(SCHEMA[0].type),
        pa.array(ad_group_ids, pa.string()),
        pa.array(y, pa.int8()),
        *(pa.array(X[:, index], pa.float64()) for index in range(X.shape[1])),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def read_rows(path: Path, on_rows: Callable[[int], None] | None = None) -> LoggedRows:
    """The rows of a training file, oldest first. ValueError, with the reason, for a file
    that does not follow the schema."""
    return logged_rows_from(_chunks(path, on_rows))


def _chunks(path: Path, on_rows) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, list]]:
    rows_before = 0
    for batch in _batches(path):
        clicked = batch.column("clicked").to_numpy(zero_copy_only=False)
        if clicked.size and not np.isin(clicked, (0, 1)).all():
            raise ValueError(f"{path.name}: clicked must be 0 or 1")
        for name in ("served_at", "ad_group_id"):
            if batch.column(name).null_count:
                raise ValueError(f"{path.name}: {name} must be given on every row")
        features = [batch.column(name).to_numpy(zero_copy_only=False) for name in FEATURE_NAMES]
        X = np.column_stack(features).astype(np.float64) if len(batch) else np.zeros((0, 0))
        _check_finite(path, X, rows_before)
        rows_before += len(batch)
        served_at = pc.cast(batch.column("served_at"), pa.timestamp("us", tz="UTC"))
        yield (
            X.reshape(len(batch), len(FEATURE_NAMES)),
            clicked.astype(np.int8),
            served_at.cast(pa.int64()).to_numpy().astype("datetime64[us]"),
            batch.column("ad_group_id").to_pylist(),
        )
        if on_rows:
            on_rows(len(batch))


def _check_finite(path: Path, X: np.ndarray, rows_before: int) -> None:
    """ValueError naming the first blank, NaN or infinite feature: serving never sends one,
    and LightGBM would train on it as "missing" without a word."""
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        row, column = bad[0]
        raise ValueError(
            f"{path.name}: data row {rows_before + row + 1}: {FEATURE_NAMES[column]} must be a "
            f"finite number, not {X[row, column]!r}"
        )


def _batches(path: Path) -> Iterator[pa.RecordBatch]:
    if _format_of(path) == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise ValueError(f"{path.name}: not a Parquet file ({error})") from None
        spec = (parquet.schema_arrow.metadata or {}).get(SPEC_KEY)
        if spec is not None and spec.decode() != FEATURE_SPEC_HASH:
            raise ValueError(
                f"{path.name} was written for feature spec {spec.decode()}, this version "
                f"uses {FEATURE_SPEC_HASH}"
            )
        _check_columns(path, parquet.schema_arrow.names)
        yield from parquet.iter_batches(batch_size=100_000, columns=list(COLUMNS))
        return
    try:
        reader = pa_csv.open_csv(
            path,
            convert_options=pa_csv.ConvertOptions(
                column_types={field.name: field.type for field in SCHEMA}
            ),
        )
    except pa.ArrowInvalid as error:
        raise ValueError(f"{path.name}: {error}") from None
    _check_columns(path, reader.schema.names)
    try:
        yield from reader
    except pa.ArrowInvalid as error:
        raise ValueError(f"{path.name}: {error}") from None


def _check_columns(path: Path, names: list[str]) -> None:
    if tuple(names) != COLUMNS:
        missing = [name for name in COLUMNS if name not in names]
        extra = [name for name in names if name not in COLUMNS]
        raise ValueError(
            f"{path.name}: the columns must be {', '.join(COLUMNS)} in this order"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )
