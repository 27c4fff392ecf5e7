"""Schema migrations (Alembic), applied with `bem db upgrade` or `upgrade(engine)`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; a no-op when it is there already.

    At the latest revision, data that a revision's new tables derive from older data
    (the sample summaries, the cycle tables) is computed too, so migrations themselves stay schema only.
    """
    command.upgrade(alembic_config(engine), revision)
    if revision == "head":
        from datastore.cycles import cycle_unprocessed
        from datastore.summaries import summarise_unsummarised

        with engine.begin() as connection:
            summarise_unsummarised(connection)
            cycle_unprocessed(connection)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
