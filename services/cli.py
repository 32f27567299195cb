"""The ``ombud`` command: run the system, inspect and replay parked messages."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.accounts_cli import token_app, users_app
from services.clisettings import cli_settings
from services.feedback import rebuild as read_models
from services.feedback.projections import ReadModels
from services.intake.importer import import_complaints
from services.recall_cli import recall_app
from services.system import SERVICES, build_service, serve, serve_workers
from shared.audit.auditor import Auditor
from shared.audit.bundle import verify_bundle
from shared.clock import SystemClock
from shared.contracts import Actor
from shared.errors import InvalidValue
from shared.logs import configure_logging
from shared.natsauth import embedded_passwords
from shared.natsserver import NatsServer
from shared.processes import ChildProcess
from shared.settings import Settings
from shared.vocabulary import Role

app = typer.Typer(help="Ombud: event-sourced complaint handling.", no_args_is_help=True)
parked_app = typer.Typer(help="Messages a consumer gave up on, kept with their error.", no_args_is_help=True)
app.add_typer(parked_app, name="parked")
import_app = typer.Typer(help="Bulk imports from files (chains moving over from spreadsheets).", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(users_app, name="users")
app.add_typer(token_app, name="token")
app.add_typer(recall_app, name="recall")
console = Console(stderr=True)
# The worker processes of `ombud up`: the feedback projection takes every event of every service, so it
# gets a process of its own; the other services' relays and policies share one.
WORKER_GROUPS = (SERVICES,)


@app.command()
def up(
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8000, or OMBUD_PORT)")] = None,
    nats_url: Annotated[str | None, typer.Option(help="use this NATS instead of starting one")] = None,
    postgres_url: Annotated[str | None, typer.Option(help="use PostgreSQL instead of SQLite files")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where stores live (default ./data)")] = None,
) -> None:
    """Start the whole system embedded: nats-server child, four services, one HTTP port."""
    settings = cli_settings(data_dir, postgres_url, nats_url, listen=True)
    if port is not None:
        settings.port = port
    nats = None
    if not settings.nats_url:
        # Its users and permissions (one per service) go in a configuration beside the keys: it holds passwords.
        nats = NatsServer(
            settings.data_dir / "nats",
            passwords=embedded_passwords(settings),
            config_file=settings.key_path("nats-server.conf"),
        ).start()
        settings.nats_url = nats.url
    store = "PostgreSQL" if settings.postgres_url else f"SQLite under {settings.data_dir.resolve()}"
    console.print(f"[bold]Ombud[/bold] on http://{settings.host}:{settings.port}  (API docs: /docs)")
    console.print(f"NATS {settings.nats_url}{' (child process)' if nats else ''}; stores: {store}")
    if settings.smtp_port:
        console.print(f"inbound e-mail: smtp://{settings.smtp_host}:{settings.smtp_port}")
    # Several processes so that every core works: this one serves HTTP for every service; each child
    # runs the relays and consumers of a group of services (WORKER_GROUPS).
    env = {**os.environ, **settings.child_env()}
    children = [
        ChildProcess(f"workers-{'-'.join(group)}", [sys.executable, "-m", "services.cli", "work", *group], env).start()
        for group in WORKER_GROUPS
    ]
    try:
        serve(SERVICES, settings, working=[], checks={child.name: child.alive for child in children})
    finally:
        for child in children:
            child.stop()
        if nats:
            nats.stop()


@app.command(hidden=True)
def work(services: Annotated[list[str], typer.Argument(help="the services whose relays and consumers to run")]) -> None:
    """Run the relays and consumers of the named services, without HTTP (``ombud up`` starts this)."""
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise typer.BadParameter(f"unknown {sorted(unknown)}; one of {', '.join(SERVICES)}")
    serve_workers(services, Settings())


@app.command()
def verify(
    case: Annotated[str | None, typer.Option(help="only this case's events")] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="check an exported case bundle offline, without the database")
    ] = None,
    public_key: Annotated[Path | None, typer.Option(help="PEM public key the bundle must be signed with")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Recompute every hash chain and name the first event altered, removed, inserted or reordered."""
    configure_logging("WARNING")
    if bundle is not None:
        outcome = verify_bundle(json.loads(bundle.read_text()), public_key.read_bytes() if public_key else None)
        if not public_key:
            console.print("[yellow]no --public-key: the signature proves integrity, not who signed[/yellow]")
        _print_findings(outcome["findings"])
        console.print(f"{outcome['events']} events, {outcome['covered']} covered by the bundle's signed checkpoint")
        raise typer.Exit(0 if outcome["ok"] else 1)
    settings = cli_settings(data_dir, postgres_url)
    services = [build_service(name, settings, SystemClock()) for name in SERVICES]
    try:
        auditor = Auditor({s.name: s.app for s in services}, settings, SystemClock())
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("verifying", total=None if case else auditor.count_events())
            reports = auditor.verify(UUID(case) if case else None, lambda _, n: progress.advance(task, n))
    finally:
        for service in services:
            service.shutdown()
    findings = [f.__dict__ | {"where": f.where()} for report in reports for f in report.findings]
    for report in reports:
        rate = report.events / report.seconds if report.seconds else 0
        console.print(
            f"{report.service}: {report.events} events in {report.streams} streams, sealed to "
            f"{report.sealed_to}; {len(report.findings)} problem(s) ({rate:,.0f} events/s)"
        )
    _print_findings(findings)
    raise typer.Exit(0 if not findings else 1)


def _print_findings(findings: list[dict[str, Any]]) -> None:
    if not findings:
        console.print("[green]intact[/green]")
        return
    first = findings[0]
    console.print(f"[red]first problem: {first['kind']} at {first['where']}: {first['detail']}[/red]", soft_wrap=True)
    table = Table("kind", "where", "detail")
    for finding in findings:
        table.add_row(finding["kind"], finding["where"], finding["detail"])
    Console(width=None if sys.stdout.isatty() else 240).print(table)


@app.command()
def checkpoint(
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Sign the heads of all chains now; the checkpoint is kept in each store and under <data_dir>/checkpoints."""
    configure_logging("WARNING")
    settings = cli_settings(data_dir, postgres_url)
    services = [build_service(name, settings, SystemClock()) for name in SERVICES]
    try:
        doc = Auditor({s.name: s.app for s in services}, settings, SystemClock()).checkpoint()
    finally:
        for service in services:
            service.shutdown()
    for name, head in doc["heads"].items():
        console.print(f"{name}: notification {head['notification_id']}, chain {head['chain_hash'][:16]}…")
    console.print(f"signed {doc['created_at']} with key {doc['key_id']}")


@parked_app.command("list")
def parked_list(
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
    all_: Annotated[bool, typer.Option("--all", help="include replayed ones")] = False,
) -> None:
    """List parked messages of every service."""
    configure_logging("WARNING")
    settings = cli_settings(data_dir, postgres_url)
    table = Table("service", "id", "consumer", "subject", "deliveries", "parked at", "replayed at", "error")
    for name in SERVICES:
        service = build_service(name, settings, SystemClock())
        try:
            for row in service.parked.list(include_replayed=all_):
                table.add_row(
                    name,
                    str(row["id"]),
                    row["consumer"],
                    row["subject"],
                    str(row["deliveries"]),
                    row["parked_at"],
                    row["replayed_at"] or "",
                    row["error"][:120],
                )
        finally:
            service.shutdown()
    # Piped output (scripts, tests) gets full rows instead of a terminal's wrapped columns.
    Console(width=None if sys.stdout.isatty() else 240).print(table)


@parked_app.command("replay")
def parked_replay(
    service_name: Annotated[str, typer.Argument(help="the service that parked it")],
    parked_id: Annotated[int, typer.Argument(help="the id shown by `ombud parked list`")],
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Apply a parked message again (exactly once: its tracking record makes a repeat a no-op)."""
    configure_logging("WARNING")
    service = build_service(service_name, cli_settings(data_dir, postgres_url), SystemClock())
    try:
        if not service.parked.replay(parked_id, service.handlers):
            console.print(f"no parked message {parked_id} waiting in {service_name}")
            raise typer.Exit(1)
    finally:
        service.shutdown()
    console.print(f"replayed {service_name} #{parked_id}")


@import_app.command("complaints")
def import_complaints_file(
    file: Annotated[
        Path, typer.Argument(help="CSV, UTF-8 (BOM ok); its columns: services/intake/importer.py", exists=True)
    ],
    user: Annotated[str, typer.Option(help="who imports: the receiver of rows that name no received_by_id")] = "import",
    role: Annotated[Role, typer.Option(help="the importer's role")] = Role.ADMIN,
    report: Annotated[Path | None, typer.Option(help="write the per-row errors to this CSV file")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Import complaints from a CSV file: every row checked, the good ones filed once (a re-run files
    nothing twice), the bad ones listed. Exit 1 if any row failed, 2 if the file is refused."""
    configure_logging("WARNING")
    service = build_service("intake", cli_settings(data_dir, postgres_url), SystemClock())
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("importing", total=None)
            outcome = import_complaints(
                service.app,
                file,
                actor=Actor(id=user, role=role),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except InvalidValue as error:
        console.print(f"[red]{file}: {error.message}[/red]", soft_wrap=True)
        raise typer.Exit(2) from error
    finally:
        service.shutdown()
    rate = outcome.rows / outcome.seconds if outcome.seconds else 0
    console.print(
        f"{outcome.rows} rows: {outcome.imported} imported, {outcome.already_imported} already imported, "
        f"{outcome.failed} failed ({outcome.seconds:.1f}s, {rate:,.0f} rows/s)"
    )
    if report is not None:
        # With a BOM, so that Excel shows Chinese text in it correctly.
        report.write_text(outcome.errors_csv(), encoding="utf-8-sig")
    if outcome.errors:
        shown = outcome.errors[:20]
        table = Table("row", "external_id", "field", "message")
        for error in shown:
            table.add_row(str(error.row), error.external_id or "", error.field, error.message)
        Console(width=None if sys.stdout.isatty() else 240).print(table)
        if len(shown) < len(outcome.errors):
            more = len(outcome.errors) - len(shown)
            console.print(f"… and {more} more" + ("" if report else "; --report FILE lists them all"))
    raise typer.Exit(1 if outcome.failed else 0)


# --- read models ------------------------------------------------------------------------------------------------


@app.command()
def rebuild(
    projection: Annotated[
        str, typer.Argument(help="a projection (feedback_views, feedback_queues, ...; `ombud projections`) or all")
    ] = "all",
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="processes of the bulk build (default: one per core, up to 2, on big logs)")
    ] = None,
) -> None:
    """Build a read model (or all) anew from every service's events beside the live one, then swap it in (the live
    one keeps answering meanwhile, and the running consumer keeps feeding it)."""
    configure_logging("WARNING")
    try:
        kinds = read_models.projection_kinds(projection)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    settings = cli_settings(data_dir, postgres_url)
    models = ReadModels(settings, kinds)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"rebuilding {projection}", total=None)
            report = read_models.rebuild(
                list(models.by_name.values()),
                settings,
                lambda done, total: bar.update(task, completed=done, total=total),
                workers=workers,
            )
    finally:
        models.close()
    console.print(
        f"{report.notifications:,} events read ({report.messages:,} public) in {report.seconds:.1f}s, "
        f"{report.rate:,.0f} events/s"
        + (f"; {report.caught_up:,} recorded meanwhile, caught up" if report.caught_up else "")
    )
    for name, applied in report.applied.items():
        console.print(f"{name}: {applied:,} messages applied")


@app.command()
def projections(
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Each read model's position in each service's log, the service's head and the lag between them."""
    configure_logging("WARNING")
    table = Table("projection", "service", "position", "head", "lag")
    for row in read_models.status(cli_settings(data_dir, postgres_url)):
        lag = str(row.lag) if row.lag == 0 else f"[yellow]{row.lag}[/yellow]"
        table.add_row(row.projection, row.service, str(row.position), str(row.head), lag)
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
