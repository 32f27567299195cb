"""``ombud recall``: import a campaign's affected customers from a file, and its summary report.

The command runs where the data folder and keys are, so it is trusted as the database is: ``--user`` and
``--role`` name who is recorded as importing, not an identity to verify.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.clisettings import cli_settings
from services.system import build_service
from shared.clock import SystemClock
from shared.contracts import Actor
from shared.logs import configure_logging
from shared.vocabulary import Role

recall_app = typer.Typer(help="Recall campaigns: import affected customers, see progress.", no_args_is_help=True)
console = Console(stderr=True)


@recall_app.command("import")
def recall_import(
    campaign_id: Annotated[UUID, typer.Argument(help="the campaign (launched) the customers are affected by")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, UTF-8 (BOM ok): order_id, sku, batch, sold_on, customer_name, phone, email, language",
            exists=True,
        ),
    ],
    user: Annotated[str, typer.Option(help="who imports")] = "import",
    role: Annotated[Role, typer.Option(help="quality_analyst, hq or admin")] = Role.QUALITY_ANALYST,
    report: Annotated[Path | None, typer.Option(help="write the per-line errors to this CSV file")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Issue a recall notice to every affected order line of FILE (a re-run issues nothing twice), in batches,
    contacts sealed. Exit 1 if any line failed, 2 if the file or the campaign refuses the import."""
    from shared.csvsafe import csv_text
    from shared.errors import DomainError

    configure_logging("WARNING")
    service = build_service("resolution", cli_settings(data_dir, postgres_url), SystemClock())
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("issuing notices", total=None)
            outcome = service.app.import_recall_customers(
                campaign_id,
                file,
                actor=Actor(id=user, role=role),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except DomainError as error:
        console.print(f"[red]{file}: {error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from error
    finally:
        service.shutdown()
    rate = outcome.rows / outcome.seconds if outcome.seconds else 0
    console.print(
        f"{outcome.rows} lines: {outcome.issued} notices issued, {outcome.already_issued} already issued, "
        f"{outcome.failed} failed ({outcome.seconds:.1f}s, {rate:,.0f} customers/s)"
    )
    if report is not None:
        rows = ([e.row, e.order_id or "", e.field, e.message] for e in outcome.errors)
        report.write_text(csv_text(["row", "order_id", "field", "message"], rows), encoding="utf-8-sig")
    if outcome.errors:
        table = Table("row", "order_id", "field", "message")
        for error in outcome.errors[:20]:
            table.add_row(str(error.row), error.order_id or "", error.field, error.message)
        Console(width=None if sys.stdout.isatty() else 240).print(table)
        if len(outcome.errors) > 20:
            more = len(outcome.errors) - 20
            console.print(f"… and {more} more" + ("" if report else "; --report FILE lists them all"))
    raise typer.Exit(1 if outcome.failed else 0)


@recall_app.command("report")
def recall_report(
    campaign_id: Annotated[UUID, typer.Argument(help="the campaign")],
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """A campaign's summary: customers by status and the share done (remedied or unreachable)."""
    configure_logging("WARNING")
    service = build_service("resolution", cli_settings(data_dir, postgres_url), SystemClock())
    try:
        summary = service.app.campaign_report(campaign_id)
    finally:
        service.shutdown()
    progress = summary["progress"]
    console.print(f"{summary['title']} ({summary['sku']}, {summary['status']}): {progress['customers']} customers, "
                  f"{progress['percent_done']}% done; {summary['joined_cases']} complaints joined")  # fmt: skip
    table = Table("status", "customers")
    for status, count in progress["by_status"].items():
        table.add_row(status, str(count))
    Console(width=None if sys.stdout.isatty() else 240).print(table)
