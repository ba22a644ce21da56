"""CSV cells never start a formula in a spreadsheet."""

import pytest

from adsmanager.services.spreadsheet import cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=2+2", "'\t=2+2"),  # a tab or a carriage return in front hides the formula
        ("\r=2+2", "'\r=2+2"),
        ("Winter sale", "Winter sale"),
        ("-1500000", "-1500000"),  # numbers stay numbers
        ("-12.50", "-12.50"),
        (-7, "-7"),
        (None, ""),
    ],
)
def test_what_a_spreadsheet_would_run_is_quoted(value, written):
    assert cell(value) == written
