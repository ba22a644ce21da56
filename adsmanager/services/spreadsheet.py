"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection)."""

from __future__ import annotations

import re

# What Excel, LibreOffice and Google Sheets read as the start of a formula: =, +, - and @,
# and a tab or carriage return in front of one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def cell(value: object) -> str:
    """``value`` as CSV text; text that a spreadsheet would run is quoted with a leading
    apostrophe (numbers, negative ones too, stay numbers)."""
    text = "" if value is None else str(value)
    if text[:1] in FORMULA_STARTS and _NUMBER.fullmatch(text) is None:
        return "'" + text
    return text
