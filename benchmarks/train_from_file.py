"""Training on millions of rows from a file: read in batches, then the usual pipeline.

Writes a Parquet file of simulated training rows (features built by the serving code, with
the click-through history of the rows before), then times reading it, and training,
calibrating and evaluating a 200-tree model on it as `adsmanager model train --from-file`
does, and prints the process's peak memory.

    python benchmarks/train_from_file.py [--rows 5000000] [--file /tmp/rows.parquet]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from adsmanager.services import training, training_files
from auction import simulator
from auction.features import vectorize
from auction.history import HistoryRecorder

END = datetime(2026, 11, 20, tzinfo=UTC)
CHUNK = 500_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_rows(path: Path, rows: int) -> None:
    users = simulator.make_users(20_000, seed=5)
    market = simulator.make_market(300, 10, seed=5, now=END)
    truth = simulator.ClickModel(5)
    recorder = HistoryRecorder()
    days = max(rows // CHUNK, 1)
    with pq.ParquetWriter(path, training_files.SCHEMA) as writer:
        for day in range(days):
            records = simulator.simulate_impressions(
                users,
                market,
                CHUNK,
                seed=100 + day,
                now=END - timedelta(days=days - 1 - day),
                click_model=truth,
            )
            X = np.empty((len(records), len(training_files.FEATURE_NAMES)))
            for index, record in enumerate(records):
                group = record.ad_group
                X[index] = vectorize(
                    record.user, group, record.position, record.at, recorder.snapshot_of(group)
                )
                recorder.observe(group, record.clicked)
            writer.write_batch(
                training_files._batch(
                    X,
                    np.array([r.clicked for r in records], dtype=np.int8),
                    np.array([r.at.replace(tzinfo=None) for r in records], "datetime64[us]"),
                    [r.ad_group.ad_group_id for r in records],
                )
            )
            log(f"  wrote {(day + 1) * CHUNK:,} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--trees", type=int, default=200)
    args = parser.parse_args()
    path = args.file or Path(tempfile.mkdtemp()) / "rows.parquet"
    if not path.exists():
        started = time.perf_counter()
        write_rows(path, args.rows)
        log(f"simulated and wrote {path} in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    logged = training_files.read_rows(path)
    read_seconds = time.perf_counter() - started
    train_part, calibration_part, test = training.split_by_time(logged)
    started = time.perf_counter()
    model = training.fit(train_part.rows, calibration_part.rows, num_trees=args.trees)
    fit_seconds = time.perf_counter() - started
    report = training.evaluate_on(model, test, np.unique(train_part.ad_groups))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{len(logged):,} rows ({path.stat().st_size / 1e6:.0f} MB Parquet): read in "
        f"{read_seconds:.1f} s; {args.trees} trees on {len(train_part):,} rows plus "
        f"calibration on {len(calibration_part):,} in {fit_seconds:.1f} s; held-out log loss "
        f"{report['log_loss']:.5f}, AUC {report['auc']:.4f}, calibration "
        f"{report['calibration_ratio']:.3f}; peak memory {peak_mb:,.0f} MB"
    )


if __name__ == "__main__":
    main()
