"""Bulk import from CSV: every row checked, the good ones filed once, the bad ones reported by line and column."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.intake.application import Intake
from services.intake.importer import COLUMNS, ImportReport, case_id_of, import_complaints
from shared.clock import SystemClock
from shared.contracts import Actor
from shared.errors import InvalidValue
from shared.masterdata import MasterData
from shared.settings import Settings
from shared.vocabulary import Role

IMPORTER = Actor(id="hq-importer", role=Role.HQ)
STORES = ["SH-001", "HZ-011", "NJ-021", "SH-031"]
# channel -> the details its rows carry: the required ones and an optional one.
DETAILS: dict[str, dict[str, str]] = {
    "phone": {"call_id": "C-{i}"},
    "store": {"counter": "3号柜台"},
    "web": {"form_id": "F-{i}"},
    "app": {"app_version": "5.2.1"},
    "email": {"subject": "投诉 / complaint {i}"},
    "letter": {"scan_ref": "L-{i}"},
    "social": {"post_url": "https://weibo.example/p/{i}", "platform": "weibo"},
    "chat": {"transcript_id": "T-{i}"},
    "regulator": {"reference": "12315-{i}", "regulator_due_at": "2026-12-01T17:00:00+08:00", "authority": "市监局"},
    "suggestion_box": {"box_id": "B-{i}"},
}
HEADER = [c for c in COLUMNS if c not in ("received_by_role", "received_by_store")] + sorted(
    {f"detail.{key}" for details in DETAILS.values() for key in details}
)


def as_channel(row: dict[str, str], channel: str, **details: str) -> None:
    row.update({column: "" for column in row if column.startswith("detail.")}, channel=channel)
    row.update({f"detail.{key}": value for key, value in details.items()})


# How a bad row is broken, and the column(s) its error must name.
BREAKS: list[tuple[Callable[[dict[str, str]], None], str]] = [
    (lambda r: r.update(channel="fax"), "channel"),
    (lambda r: r.update(customer_phone="", customer_email=""), "customer_phone, customer_email"),
    (lambda r: r.update(customer_phone="call me", customer_email=""), "customer_phone"),
    (lambda r: r.update(occurred_at="2099-01-01T10:00:00+08:00"), "occurred_at"),
    (lambda r: r.update(store_id="XX-999"), "store_id"),
    (lambda r: r.update(amount_paid="3,980.00元"), "amount_paid"),
    (lambda r: r.update(description=""), "description"),
    (lambda r: as_channel(r, "social", platform="weibo"), "detail.post_url"),
    (lambda r: as_channel(r, "regulator", reference="R-1", regulator_due_at="next week"), "detail.regulator_due_at"),
    (lambda r: r.update(external_id=""), "external_id"),
]


def good_row(i: int) -> dict[str, str]:
    """A valid row: channels, stores and languages in turn; some multi-line, some naming their receiver."""
    channel = list(DETAILS)[i % len(DETAILS)]
    english = i % 2 == 1
    row = dict.fromkeys(HEADER, "")
    row.update(
        external_id=f"ERP-{i:06d}",
        store_id=STORES[i % len(STORES)],
        customer_name=f"Customer {i}" if english else f"王芳{i}",
        customer_phone=f"139{i:08d}" if i % 3 else "",
        customer_email=f"c{i}@example.com" if i % 3 != 1 else "",
        description=f'Bracelet broke, "poor quality", #{i}' if english else f"手镯戴了一周就断了，质量太差，#{i}",
        demand="refund" if english else "退货",
        amount_paid=f"{i % 5000}.{i % 100:02d}",
        # Spreadsheets write local times without a zone; some rows carry one.
        occurred_at="2026-11-20 14:30" if i % 4 else "2026-11-20T14:30:00+08:00",
        language="en" if english else "zh",
    )
    as_channel(row, channel, **{key: value.format(i=i) for key, value in DETAILS[channel].items()})
    if i % 7 == 0:
        row["description"] += "\nsecond line: the clerk was rude" if english else "\n第二行：店员态度也很差"
    if i % 5 == 0:
        row.update(received_by_id=f"staff-{i % 50}", received_by_name="李娜", received_by_position="店长")
    return row


def complaints_csv(n: int, bad: Collection[int]) -> tuple[bytes, dict[int, tuple[str, str]]]:
    """A CSV file (UTF-8 with a BOM, as Excel writes it) of ``n`` rows, those numbered in ``bad`` broken in
    turn by each of ``BREAKS``; and line -> (external_id, column) for each bad row, lines counted as the
    file has them (a multi-line cell takes several)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, lineterminator="\r\n")
    writer.writeheader()
    expected: dict[int, tuple[str, str]] = {}
    line = 2
    for i in range(n):
        row = good_row(i)
        if i in bad:
            brk, column = BREAKS[len(expected) % len(BREAKS)]
            brk(row)
            expected[line] = (row["external_id"], column)
        writer.writerow(row)
        line += 1 + sum(value.count("\n") for value in row.values())
    return out.getvalue().encode("utf-8-sig"), expected


def assert_report(report: ImportReport, rows: int, bad: dict[int, tuple[str, str]], *, imported: int) -> None:
    assert (report.rows, report.failed) == (rows, len(bad))
    assert (report.imported, report.already_imported) == (imported, rows - len(bad) - imported)
    assert {e.row: (e.external_id or "", e.field) for e in report.errors} == bad
    assert len(report.errors) == len(bad)  # each bad row has one fault, reported once


@pytest.fixture
def intake(make_settings: Callable[..., Settings]) -> Iterator[Intake]:
    settings = make_settings()
    intake = Intake(settings, SystemClock(), MasterData.load(settings.master_data_dir))
    yield intake
    intake.close()


def contact_of(intake: Intake, external_id: str) -> Any:
    return intake.read_contact(case_id_of(external_id), actor=Actor(id="m1", role=Role.CS_MANAGER))


def test_small_import_files_good_rows_once_and_reports_each_bad_one(intake: Intake, tmp_path: Path) -> None:
    data, bad = complaints_csv(20, bad=range(1, 20, 2))
    path = tmp_path / "complaints.csv"
    path.write_bytes(data)
    seen: list[tuple[int, int]] = []

    report = import_complaints(intake, path, actor=IMPORTER, progress=lambda done, total: seen.append((done, total)))

    assert_report(report, 20, bad, imported=10)
    assert seen[-1] == (20, 20)
    # Chinese and English text arrive intact, a multi-line cell included.
    assert contact_of(intake, "ERP-000000").description == "手镯戴了一周就断了，质量太差，#0\n第二行：店员态度也很差"
    assert contact_of(intake, "ERP-000000").name == "王芳0"
    assert contact_of(intake, "ERP-000002").email == "c2@example.com"
    assert intake.get_complaint(case_id_of("ERP-000004")).amount_paid == Decimal("4.04")
    again = import_complaints(intake, data, actor=IMPORTER)
    assert_report(again, 20, bad, imported=0)


def test_a_file_of_several_batches_is_imported_whole(intake: Intake) -> None:
    # Batches are filed one while the next is sealed, and on PostgreSQL they are bounded in bytes.
    data, bad = complaints_csv(700, bad={0, 249, 250, 251, 699})
    assert_report(import_complaints(intake, data, actor=IMPORTER), 700, bad, imported=695)


def test_the_importer_records_every_row_and_a_rows_receiver_stays_on_its_record(intake: Intake) -> None:
    rows = [good_row(5), good_row(6)]  # row 5 names staff-5 as its receiver, row 6 nobody

    report = import_complaints(intake, rows, actor=IMPORTER)

    assert (report.imported, report.failed) == (2, 0)

    def receiver(external_id: str) -> dict[str, Any]:
        [stored] = intake.recorder.select_events(case_id_of(external_id), limit=1)
        return intake.mapper.to_domain_event(stored).envelope["actor"]

    # The signed-in importer is the actor of both (a row's receiver is data, never an identity)
    assert receiver("ERP-000005") == receiver("ERP-000006") == {"id": "hq-importer", "role": "hq", "store": None}
    assert intake.get_complaint(case_id_of("ERP-000005")).received_by["name"] == "李娜"


def test_a_repeated_external_id_or_a_surplus_cell_is_a_row_error(intake: Intake) -> None:
    data = (
        "\ufeffexternal_id,channel,store_id,customer_name,customer_phone,description\n"
        "A1,web,SH-001,王芳,13800138000,价格多收了\n"
        "A1,web,SH-001,王芳,13800138000,又一次\n"
        "A2,web,SH-001,x,13800138000,d,?\n"
    )
    report = import_complaints(intake, data.encode(), actor=IMPORTER)
    assert (report.imported, report.failed) == (1, 2)
    assert [(e.row, e.field) for e in report.errors] == [(3, "external_id"), (4, "row")]
    assert "line 2" in report.errors[0].message


def test_a_file_not_in_utf8_or_with_unknown_columns_is_refused(intake: Intake) -> None:
    with pytest.raises(InvalidValue, match="not UTF-8"):
        import_complaints(intake, "external_id,channel\n1,门店\n".encode("gbk"), actor=IMPORTER)
    with pytest.raises(InvalidValue, match="unknown column.*custmer_phone"):
        import_complaints(intake, b"external_id,custmer_phone\n1,x\n", actor=IMPORTER)
    with pytest.raises(InvalidValue, match="lacks column.*description"):
        import_complaints(intake, b"external_id,channel,store_id,customer_name\n", actor=IMPORTER)


class TestLargeFileOnSQLite:
    @pytest.fixture
    def store(self) -> str:
        return "sqlite"  # the large file once; the small ones run on both stores

    def test_ten_thousand_rows_three_percent_bad_then_a_rerun_files_nothing(self, intake: Intake) -> None:
        data, bad = complaints_csv(10_000, bad={i for i in range(10_000) if i % 100 in (17, 50, 83)})
        assert len(bad) == 300

        report = import_complaints(intake, data, actor=IMPORTER)

        assert_report(report, 10_000, bad, imported=9_700)
        assert {field for _, field in bad.values()} == {column for _, column in BREAKS}
        again = import_complaints(intake, data, actor=IMPORTER)
        assert_report(again, 10_000, bad, imported=0)

    def test_cli_imports_writes_the_report_and_exits_1_on_bad_rows(
        self, make_settings: Callable[..., Settings], tmp_path: Path
    ) -> None:
        settings = make_settings()
        data, bad = complaints_csv(30, bad={4, 9})
        path = tmp_path / "导入.csv"
        path.write_bytes(data)
        errors = tmp_path / "errors.csv"
        command = ["import", "complaints", str(path), "--data-dir", str(settings.data_dir), "--user", "u-7"]

        first = CliRunner().invoke(app, [*command, "--report", str(errors)])

        assert first.exit_code == 1, first.output
        assert "30 rows: 28 imported, 0 already imported, 2 failed" in first.output
        with errors.open(encoding="utf-8-sig", newline="") as f:
            listed = list(csv.DictReader(f))
        assert [(int(r["row"]), r["external_id"], r["field"]) for r in listed] == [
            (line, *found) for line, found in sorted(bad.items())
        ]
        again = CliRunner().invoke(app, command)
        assert again.exit_code == 1, again.output
        assert "30 rows: 0 imported, 28 already imported, 2 failed" in again.output

        data_dir = ["--data-dir", str(settings.data_dir)]
        good = tmp_path / "good.csv"
        good.write_bytes(complaints_csv(3, bad=())[0])
        assert CliRunner().invoke(app, ["import", "complaints", str(good), *data_dir]).exit_code == 0
        gbk = tmp_path / "gbk.csv"
        gbk.write_bytes("external_id,channel\n1,门店\n".encode("gbk"))
        refused = CliRunner().invoke(app, ["import", "complaints", str(gbk), *data_dir])
        assert refused.exit_code == 2 and "not UTF-8" in refused.output
