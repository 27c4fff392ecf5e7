"""Migrations build the schema the models describe, the same on SQLite and MariaDB."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, types

from datastore import make_engine, upgrade
from datastore.migrate import current_revision, head_revision, is_up_to_date
from datastore.models import Base


def _type_family(column_type: types.TypeEngine) -> str:
    """The kind of a reflected column, ignoring dialect spelling (DOUBLE vs FLOAT(53), ...)."""
    # MEDIUMTEXT and LONGTEXT are not Text subclasses in SQLAlchemy's MySQL dialect.
    if type(column_type).__name__ in ("MEDIUMTEXT", "LONGTEXT"):
        return "text"
    for family, classes in (
        ("integer", (types.Integer,)),
        ("boolean", (types.Boolean,)),
        ("float", (types.Float, types.Numeric)),
        ("datetime", (types.DateTime,)),
        ("date", (types.Date,)),
        ("json", (types.JSON,)),
        ("text", (types.Text,)),
        ("string", (types.String,)),
    ):
        if isinstance(column_type, classes):
            return family
    return type(column_type).__name__


def _schema(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(t for t in inspector.get_table_names() if t != "alembic_version"):
        columns = {
            c["name"]: (_type_family(c["type"]), c["nullable"])
            for c in inspector.get_columns(table)
        }
        # MariaDB stores JSON as LONGTEXT and TINYINT(1) for booleans: compare them as such.
        columns = {
            name: ({"json": "text", "boolean": "integer"}.get(family, family), nullable)
            for name, (family, nullable) in columns.items()
        }
        indexes = {
            (tuple(i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(table)
            # MariaDB adds a plain index for every foreign key; SQLite does not.
            if not (len(i["column_names"]) == 1 and i["name"] == i["column_names"][0])
        }
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        # MariaDB reports unique constraints as unique indexes too.
        indexes = {(cols, unique) for cols, unique in indexes if not (unique and cols in uniques)}
        foreign_keys = {
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(table)
        }
        schema[table] = {
            "columns": columns,
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "indexes": indexes,
            "uniques": uniques,
            "foreign_keys": foreign_keys,
        }
    return schema


def test_upgrade_builds_every_model_table_on_sqlite(sqlite_engine: Engine) -> None:
    assert set(_schema(sqlite_engine)) == set(Base.metadata.tables)


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_and_mariadb_get_the_same_schema(
    sqlite_engine: Engine, mariadb_engine: Engine
) -> None:
    sqlite_schema, mariadb_schema = _schema(sqlite_engine), _schema(mariadb_engine)
    assert sqlite_schema.keys() == mariadb_schema.keys()
    for table in sqlite_schema:
        assert sqlite_schema[table] == mariadb_schema[table], table


def test_upgrade_is_safe_to_repeat(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert is_up_to_date(engine)


def test_samples_of_an_experiment_are_found_by_range_scans(sqlite_engine: Engine) -> None:
    schema = _schema(sqlite_engine)
    assert schema["measurements"]["primary_key"] == ("experiment_id", "seq")
    assert (("experiment_id", "ts"), False) in schema["measurements"]["indexes"]
    assert schema["extra_values"]["primary_key"] == ("channel_id", "seq")


def test_a_fresh_sqlite_file_is_created_with_its_folder(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'bem.sqlite3'}")
    upgrade(engine)
    assert (tmp_path / "new" / "folder" / "bem.sqlite3").is_file()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_0008_adds_the_failed_sign_ins_and_keeps_the_users(engine: Engine) -> None:
    """From 0007 (users, no counts of failed sign-ins) to 0008 and back, with data."""
    from alembic import command
    from sqlalchemy import text

    from datastore.migrate import alembic_config

    command.downgrade(alembic_config(engine), "0007")
    assert "sign_in_failures" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, password_hash, role, disabled, created_at) "
                "VALUES ('ada', 'x', 'admin', 0, '2026-01-01 00:00:00')"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == "0008"
    schema = _schema(engine)["sign_in_failures"]
    assert {(("name", "at"), False), (("address", "at"), False), (("at",), False)} <= schema[
        "indexes"
    ]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM users")).scalars().all() == ["ada"]
    command.downgrade(alembic_config(engine), "0007")
    assert "sign_in_failures" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert is_up_to_date(engine)
