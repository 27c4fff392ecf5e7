"""The import page's upload route: the file goes to disk in its own folder under a token;
too large a file or one the importer cannot read is refused with a message."""

from __future__ import annotations

import io
import os
from pathlib import Path

import flask
import pytest
import werkzeug.formparser

from components.uploads import (
    ABANDONED_AFTER_S,
    UploadError,
    claim_upload,
    find_upload,
    receive_upload,
    remove_abandoned,
    upload_root,
)
from components.urls import IMPORT_UPLOAD_URL
from config import Settings


@pytest.fixture
def upload_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.replace(web={"upload_dir": str(tmp_path / "up"), "max_upload_bytes": 200_000})


@pytest.fixture
def client(app_factory, upload_settings: Settings):
    return app_factory(upload_settings).server.test_client()


def _post(client, content: bytes, filename: str):
    return client.post(
        IMPORT_UPLOAD_URL,
        data={"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_an_uploaded_file_is_written_to_its_own_folder_and_named_by_a_token(
    client, upload_settings: Settings, monkeypatch
) -> None:
    # The file part goes straight to its file: neither werkzeug's spooled temporary file
    # nor Flask's request.files (which would copy it) is used.
    def not_this_way(*_args, **_kwargs):
        raise AssertionError("the upload went through a temporary file")

    monkeypatch.setattr(werkzeug.formparser, "default_stream_factory", not_this_way)
    monkeypatch.setattr(flask.Request, "_get_file_stream", not_this_way)
    content = b"Test Time / s,Voltage / V,Current / A\n" + b"0,3.7,1\n" * 10_000
    response = _post(client, content, "../../run 1.csv")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["size"] == len(content)
    assert body["filename"] == "../../run 1.csv"
    root = upload_root(upload_settings)
    path = find_upload(root, body["token"])
    assert path is not None and path.parent.parent == root
    assert path.name == "run_1.csv"  # no path parts survive
    assert path.read_bytes() == content


@pytest.mark.parametrize("filename", ["run.xlsx", "run", "notes.CSV.exe"])
def test_a_file_the_importer_cannot_read_is_refused_and_nothing_is_kept(
    client, upload_settings: Settings, filename: str
) -> None:
    response = _post(client, b"x,y\n1,2\n", filename)
    assert response.status_code == 400
    assert "cannot be imported" in response.json["error"]
    assert ".csv .txt .tsv .parquet .nda .ndax .mpr .zip" in response.json["error"]
    root = upload_root(upload_settings)
    assert not root.exists() or list(root.iterdir()) == []


def test_a_file_over_the_size_limit_is_refused_with_413_and_nothing_is_kept(
    client, upload_settings: Settings
) -> None:
    response = _post(client, b"0,3.7,1\n" * 30_000, "big.csv")  # 240 kB > 200 kB
    assert response.status_code == 413
    assert response.json["error"] == (
        "The file is too large: the import accepts files up to 200.0 kB "
        "(the setting web.max_upload_bytes)."
    )
    root = upload_root(upload_settings)
    assert not root.exists() or list(root.iterdir()) == []


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    class Unread(io.BytesIO):
        def read(self, *_args):
            raise AssertionError("the body was read")

    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(10**9),
        "CONTENT_TYPE": "multipart/form-data; boundary=x",
        "wsgi.input": Unread(),
    }
    with pytest.raises(UploadError, match="too large") as refused:
        receive_upload(environ, tmp_path, 200_000)
    assert refused.value.status == 413
    assert list(tmp_path.iterdir()) == []


def test_a_request_without_a_file_is_refused(client) -> None:
    response = client.post(IMPORT_UPLOAD_URL, data={"other": "1"})
    assert response.status_code == 400
    assert response.json["error"] == "No file in the request (expected the form field 'file')."


def test_tokens_that_are_not_ours_find_nothing(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("x")
    for token in ("..", "../secret.csv", "", "abc", "A" * 32):
        assert find_upload(tmp_path, token) is None


def test_uploads_older_than_a_day_are_removed(tmp_path: Path) -> None:
    old, new = tmp_path / ("a" * 32), tmp_path / ("b" * 32)
    for folder in (old, new):
        folder.mkdir()
        (folder / "run.csv").write_text("x")
    stale = os.stat(new).st_mtime - ABANDONED_AFTER_S - 10
    os.utime(old, (stale, stale))
    remove_abandoned(tmp_path)
    assert not old.exists() and new.exists()


def test_an_upload_is_claimed_by_one_import_only(tmp_path: Path) -> None:
    token = "d" * 32
    (tmp_path / token).mkdir()
    (tmp_path / token / "run.csv").write_text("x")
    claimed = claim_upload(tmp_path, token)
    assert claimed is not None and claimed.read_text() == "x"
    assert claim_upload(tmp_path, token) is None
    assert find_upload(tmp_path, token) is None


def test_claimed_uploads_older_than_a_day_are_removed(tmp_path: Path) -> None:
    token = "e" * 32
    (tmp_path / token).mkdir()
    (tmp_path / token / "run.csv").write_text("x")
    claimed = claim_upload(tmp_path, token)
    assert claimed is not None
    remove_abandoned(tmp_path)
    assert claimed.exists()
    stale = os.stat(claimed.parent).st_mtime - ABANDONED_AFTER_S - 10
    os.utime(claimed.parent, (stale, stale))
    remove_abandoned(tmp_path)
    assert not claimed.parent.exists()
