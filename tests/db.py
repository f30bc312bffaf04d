"""Where tests keep their store: a tmp SQLite file, or a fresh PostgreSQL database.

Set ``MAILGATE_TEST_PG=postgresql+psycopg://user@host/postgres`` (an account that may create
databases) and every test that takes its URL from here runs on its own new PostgreSQL database,
dropped afterwards; ``.ci/run`` runs the suite once each way.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "MAILGATE_TEST_PG"


def on_postgres() -> bool:
    return bool(os.environ.get(PG_ENV))


@contextlib.contextmanager
def fresh_store_url(tmp_path: Path, name: str = "mailgate.db") -> Iterator[str]:
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        yield f"sqlite:///{tmp_path / name}"
        return
    database = f"mg_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
