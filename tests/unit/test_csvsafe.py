"""CSV out: a cell a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io

import pytest

from services.intake.importer import ImportReport, RowError
from shared.csvsafe import csv_text, inert


@pytest.mark.parametrize("cell", ["=1+1", "+86 138", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(cell: str) -> None:
    assert inert(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["王芳", "SH-001", "service/=x", "", 12, -3.5, None])
def test_other_cells_and_numbers_are_left_alone(cell: object) -> None:
    assert inert(cell) == cell


def test_rows_as_mappings_or_sequences_come_out_in_header_order_and_inert() -> None:
    text = csv_text(["store", "cases"], [{"cases": 3, "store": "=cmd|' /C calc'!A0"}, ["SH-001", -1]], newline="\r\n")
    assert list(csv.reader(io.StringIO(text))) == [["store", "cases"], ["'=cmd|' /C calc'!A0", "3"], ["SH-001", "-1"]]


def test_the_import_report_escapes_what_the_file_said() -> None:
    # Given a bad row whose external id was written as a formula
    report = ImportReport(rows=1)
    report.errors.append(RowError(2, "=HYPERLINK(\"http://x\")", "store_id", "unknown store"))
    # When its errors are written out for a spreadsheet
    rows = list(csv.reader(io.StringIO(report.errors_csv())))
    # Then the id is text
    assert rows[1][1] == "'=HYPERLINK(\"http://x\")"
