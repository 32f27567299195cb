"""``ombud users`` and ``ombud token``: passwords and tokens of Ombud's own identity provider (embedded mode)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.clisettings import cli_settings
from shared.access.api import staff_principal
from shared.access.guard import Access
from shared.access.principal import Principal
from shared.access.store import IdentityStore
from shared.clock import SystemClock
from shared.logs import configure_logging
from shared.settings import Settings
from shared.vocabulary import Role

users_app = typer.Typer(help="Staff accounts: the master data's staff, with passwords set here.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for scripts and integrations.", no_args_is_help=True)
console = Console(stderr=True)

MIN_PASSWORD = 12
# Scripts and integrations may hold a token longer than a person's session, but not for ever: 90 days.
MAX_TTL = 90 * 86_400


def _open(data_dir: Path | None, postgres_url: str | None) -> tuple[Settings, IdentityStore]:
    configure_logging("WARNING")
    settings = cli_settings(data_dir, postgres_url)
    return settings, IdentityStore(settings, SystemClock())


@users_app.command("set-password")
def set_password(
    staff_id: Annotated[str, typer.Argument(help="a staff id of the master data (staff.csv)")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Set a staff member's password (argon2id). The password is read from standard input, never an argument,
    so it stays out of the shell history and the process list."""
    if not password_stdin:
        raise typer.BadParameter("pass --password-stdin and the password on standard input")
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise typer.BadParameter(f"a password needs at least {MIN_PASSWORD} characters")
    settings, store = _open(data_dir, postgres_url)
    try:
        access = Access(settings, store)
        if staff_id not in access.staff:
            raise typer.BadParameter(f"{staff_id!r} is not in the master data's staff ({settings.master_data_dir})")
        store.set_password(staff_id, password)
        store.record("password_set", staff_id, access.staff[staff_id].role.value, "ombud users set-password")
    finally:
        store.close()
    console.print(f"password set for {staff_id}")


@token_app.command("create")
def create_token(
    subject: Annotated[str, typer.Argument(help="a staff id, or a service account's name with --role")],
    ttl: Annotated[int | None, typer.Option(help="lifetime in seconds (default OMBUD_AUTH_TOKEN_TTL_SECONDS)")] = None,
    role: Annotated[Role | None, typer.Option(help="a service account's role (an integration, not a person)")] = None,
    store_ids: Annotated[list[str] | None, typer.Option("--store", help="a service account's store (repeat)")] = None,
    regions: Annotated[list[str] | None, typer.Option("--region", help="a service account's region (repeat)")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    postgres_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print a bearer token: for a staff member of the master data, or (with ``--role``) a service account."""
    if ttl is not None and not 60 <= ttl <= MAX_TTL:
        raise typer.BadParameter(f"--ttl must be between 60 and {MAX_TTL} seconds")
    settings, store = _open(data_dir, postgres_url)
    try:
        access = Access(settings, store)
        if access.issuer is None:
            raise typer.BadParameter("tokens come from the chain's identity provider (OMBUD_AUTH_MODE=oidc)")
        if role is not None:
            if role in (Role.SYSTEM, Role.CUSTOMER):
                raise typer.BadParameter(f"a service account cannot have role {role.value}")
            principal = Principal(
                id=subject, role=role, stores=tuple(store_ids or ()), regions=tuple(regions or ()), kind="service"
            )
        elif subject in access.staff:
            principal = staff_principal(access, access.staff[subject])
        else:
            raise typer.BadParameter(
                f"{subject!r} is not in the master data's staff; give --role for a service account"
            )
        token, lifetime = access.issuer.issue(principal, ttl)
        store.record("token_issued", principal.id, principal.role.value, "ombud token create", ttl=str(lifetime))
    finally:
        store.close()
    print(token)
