"""The import page's Import button on the server: one upload becomes at most one import."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from components.import_runner import ImportRequest, ImportRunner
from components.uploads import upload_root
from config import Settings
from datastore.models import ImportJob
from tests.web.lab_data import add_two_cells, engine_of

CSV = "Test Time / s,Voltage / V,Current / A\n0,3.6,0.5\n1,3.7,0.5\n"


@pytest.fixture
def app(app_factory, settings: Settings, tmp_path: Path):
    web = {"upload_dir": str(tmp_path / "uploads"), "max_upload_bytes": 10_000_000}
    return app_factory(settings.replace(web=web))


@pytest.fixture
def started(monkeypatch) -> list[tuple[int, ImportRequest]]:
    """The imports the page started; the runner's thread is left out, so the uploaded
    file stays where it is, as it does while a long import runs."""
    calls: list[tuple[int, ImportRequest]] = []
    monkeypatch.setattr(
        ImportRunner, "start", lambda _self, job_id, request: calls.append((job_id, request))
    )
    return calls


def _uploaded(app: Any, token: str) -> dict[str, Any]:
    folder = upload_root(app.server.extensions["bem"].settings) / token
    folder.mkdir(parents=True)
    (folder / "run.csv").write_text(CSV)
    return {"token": token, "filename": "run.csv", "size": len(CSV)}


def _battery(app: Any) -> int:
    with Session(engine_of(app)) as session:
        battery, _ = add_two_cells(session)
        session.commit()
        return battery.id


def _click_import(page: Any, upload: dict[str, Any], battery_id: int) -> tuple[Any, ...]:
    return page.start_import(
        1, "imported run", str(battery_id), "", "", "2026-11-25 10:00:00", upload, "auto",
        {"needs_start": True, "choices": []},
    )  # fmt: skip


def test_a_second_import_of_the_same_upload_is_refused(app, started) -> None:
    from pages.experiment_import import page

    with Session(engine_of(app)) as session:
        battery, _ = add_two_cells(session)
        session.commit()
        battery_id = battery.id
    upload = _uploaded(app, "c" * 32)
    with app.server.app_context():
        first = _click_import(page, upload, battery_id)
        # The preview re-enables Import while the first import runs (a format change),
        # or a double click sends the request twice.
        second = _click_import(page, upload, battery_id)

    assert first[8] == "" and first[9] == {"id": started[0][0]}
    assert len(started) == 1
    assert "already" in second[8]
    assert second[9] is page.no_update
    with Session(engine_of(app)) as session:
        assert session.scalar(select(func.count()).select_from(ImportJob)) == 1


def test_a_zip_unpacking_to_more_than_the_upload_limit_is_not_imported(app, started) -> None:
    from pages.experiment_import import page

    battery_id = _battery(app)
    folder = upload_root(app.server.extensions["bem"].settings) / ("f" * 32)
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "runs.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", CSV)
        archive.writestr("big.parquet", bytes(50_000_000))  # a few kB packed
    upload = {"token": "f" * 32, "filename": "runs.zip", "size": 1}
    with app.server.app_context():
        answer = _click_import(page, upload, battery_id)

    assert "'big.parquet' in the ZIP archive is 50.0 MB unpacked" in answer[8]
    assert answer[9] is page.no_update and not started
