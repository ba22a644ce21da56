"""What the CSV importers of the creator fund share: reading a header, turning cells into
values (an empty cell is null), and a report of what happened, line by line."""

from __future__ import annotations

import csv
import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

# The first problems are kept with their line numbers; the rest are only counted.
KEPT_ERRORS = 100
MALFORMED = "malformed"

# \Z, not $: "$" also matches before a final newline.
_INTEGER = re.compile(r"^-?[0-9]{1,19}\Z")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n", ""}


class CellError(ValueError):
    """A cell that does not hold a value of its column's type."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")


@dataclass(frozen=True)
class LineError:
    line: int  # in the file, the header being line 1
    reason: str  # machine-readable: malformed, invalid_counts, unknown_creator, ...
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    # The KEPT_ERRORS problems of the lowest line numbers, as a heap on the negated line.
    _kept: list[tuple[int, LineError]] = field(default_factory=list, repr=False)

    def reject(self, line: int, reason: str, message: str) -> None:
        self.invalid += 1
        entry = (-line, LineError(line, reason, message))
        if len(self._kept) < KEPT_ERRORS:
            heapq.heappush(self._kept, entry)
        elif line < -self._kept[0][0]:
            heapq.heapreplace(self._kept, entry)

    @property
    def errors(self) -> list[LineError]:
        """The first problems of the file, in line order."""
        return sorted((error for _, error in self._kept), key=lambda error: error.line)


def rows(
    file: TextIO, required: Iterable[str], optional: Iterable[str] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """The data rows of ``file`` with their line numbers. ValueError when the header lacks
    a required column or names one that is not known."""
    reader = csv.DictReader(file)
    header = reader.fieldnames
    if not header:
        raise ValueError("The file is empty; it needs a header line.")
    required, known = list(required), {*required, *optional}
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in known]
    if missing or unknown or len(set(header)) != len(header):
        raise ValueError(
            "The header must name the columns "
            + ",".join([*required, *(name for name in optional if name not in required)])
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
            + ("; a column is named twice" if len(set(header)) != len(header) else "")
        )
    for row in reader:
        yield reader.line_num, row


def check_width(row: dict) -> None:
    """csv.DictReader files cells beyond the header under the key None."""
    if None in row:
        raise CellError("line", "has more cells than the header has columns")


def text(row: dict[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value or None


def required_text(row: dict[str, str], column: str) -> str:
    value = text(row, column)
    if value is None:
        raise CellError(column, "required")
    return value


def integer(row: dict[str, str], column: str, default: int | None = None) -> int | None:
    value = text(row, column)
    if value is None:
        return default
    if not _INTEGER.match(value):
        raise CellError(column, f"'{value}' is not a whole number")
    return int(value)


def required_integer(row: dict[str, str], column: str) -> int:
    value = integer(row, column)
    if value is None:
        raise CellError(column, "required")
    return value


def day(row: dict[str, str], column: str) -> date | None:
    value = text(row, column)
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise CellError(column, f"'{value}' is not a date (YYYY-MM-DD)") from None


def required_day(row: dict[str, str], column: str) -> date:
    value = day(row, column)
    if value is None:
        raise CellError(column, "required")
    return value


def boolean(row: dict[str, str], column: str) -> bool:
    value = (text(row, column) or "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CellError(column, f"'{value}' is not true or false")
