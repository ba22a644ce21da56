"""Training rows exported to and read from CSV and Parquet files."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adsmanager.services import training, training_files
from auction.features import FEATURE_NAMES


def _same(read, logged):
    assert np.array_equal(read.rows.X, logged.rows.X)
    assert np.array_equal(read.rows.y, logged.rows.y)
    assert np.array_equal(read.served_at, logged.served_at)
    # The same ad groups, whatever codes stand for them.
    pairs = set(zip(read.ad_groups.tolist(), logged.ad_groups.tolist(), strict=True))
    assert len(pairs) == len(set(logged.ad_groups.tolist()))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_exported_rows_read_back_exactly(db, logged, tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    counted = []
    assert training_files.export_rows(db, path, on_rows=counted.append) == len(logged)
    assert sum(counted) == len(logged)
    _same(training_files.read_rows(path), logged)


def test_a_file_out_of_time_order_is_sorted(db, logged, tmp_path):
    path = tmp_path / "rows.parquet"
    training_files.export_rows(db, path)
    table = pq.read_table(path)
    pq.write_table(table.take(np.arange(len(table))[::-1]), path)
    read = training_files.read_rows(path)
    assert np.array_equal(read.served_at, logged.served_at)
    assert sorted(map(tuple, read.rows.X.tolist())) == sorted(map(tuple, logged.rows.X.tolist()))


def test_a_model_trains_from_a_file(db, logged, tmp_path):
    path = tmp_path / "rows.csv"
    training_files.export_rows(db, path)
    outcome = training.train_and_register(
        db, logged=training_files.read_rows(path), num_trees=20, auto_activate=False
    )
    assert outcome.metrics["rows"]["train"] == int(len(logged) * training.TRAIN_SHARE)


def test_files_that_break_the_schema_are_refused_with_the_reason(tmp_path):
    header = ",".join(training_files.COLUMNS)
    row = "2026-11-20T10:00:00Z,adg_1,1," + ",".join("1" for _ in FEATURE_NAMES)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(header.replace("position", "slot") + "\n" + row + "\n")
    with pytest.raises(ValueError, match="missing position; unexpected slot"):
        training_files.read_rows(renamed)
    bad_label = tmp_path / "label.csv"
    bad_label.write_text(header + "\n" + row.replace(",adg_1,1,", ",adg_1,2,") + "\n")
    with pytest.raises(ValueError, match="clicked must be 0 or 1"):
        training_files.read_rows(bad_label)
    not_a_number = tmp_path / "text.csv"
    not_a_number.write_text(header + "\n" + row.replace(",1,1,", ",1,one,", 1) + "\n")
    with pytest.raises(ValueError, match="text.csv"):
        training_files.read_rows(not_a_number)
    with pytest.raises(ValueError, match=".csv or .parquet"):
        training_files.read_rows(tmp_path / "rows.json")
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    with pytest.raises(ValueError, match="not a Parquet file"):
        training_files.read_rows(fake)


@pytest.mark.parametrize("value", ["", "nan", "NaN", "inf", "-inf"])
def test_a_blank_or_non_finite_feature_is_refused_with_its_row_and_column(tmp_path, value):
    header = ",".join(training_files.COLUMNS)
    good = "2026-11-20T10:00:00Z,adg_1,0," + ",".join("1" for _ in FEATURE_NAMES)
    cells = ["1"] * len(FEATURE_NAMES)
    cells[FEATURE_NAMES.index("log_bid_micros")] = value
    bad = "2026-11-20T10:01:00Z,adg_1,1," + ",".join(cells)
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([header, good, bad]) + "\n")
    with pytest.raises(ValueError, match="rows.csv: data row 2: log_bid_micros must be a finite"):
        training_files.read_rows(path)


def test_a_parquet_row_without_its_time_or_ad_group_is_refused(tmp_path):
    row = {"served_at": [None], "ad_group_id": ["adg_1"], "clicked": [0]}
    row |= {name: [1.0] for name in FEATURE_NAMES}
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pydict(row, schema=training_files.SCHEMA), path)
    with pytest.raises(ValueError, match="served_at must be given on every row"):
        training_files.read_rows(path)


def test_a_parquet_file_of_another_feature_spec_is_refused(tmp_path):
    schema = training_files.SCHEMA.with_metadata({training_files.SPEC_KEY: b"0" * 64})
    path = tmp_path / "old.parquet"
    pq.write_table(pa.Table.from_batches([], schema=schema), path)
    with pytest.raises(ValueError, match="written for feature spec 0000"):
        training_files.read_rows(path)


def test_an_empty_window_exports_a_header_only_csv(db, tmp_path):
    path = tmp_path / "empty.csv"
    assert training_files.export_rows(db, path) == 0
    assert path.read_text().strip() == ",".join(training_files.COLUMNS)
    assert len(training_files.read_rows(path)) == 0
