"""Files uploaded for import: written straight to disk as they arrive, one folder per upload.

The import page posts the chosen file to a plain Flask route (`components.routes`), not
through a Dash callback: a callback would carry the file as base64 in memory, and files
reach a gigabyte. The multipart body is parsed with a stream factory that writes the
file part into `<upload dir>/<token>/<file name>`, so memory stays flat whatever the
size. The token (random hex) is all the page keeps. Starting an import claims the upload
(`claim_upload` renames its folder), so one upload is imported once, whatever the clicks
or the workers; the folder goes when the import ends, and uploads nobody imported go
after a day.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data
from werkzeug.utils import secure_filename

from config import Settings

# What the import page accepts (domain.importing.format_of reads these extensions).
ACCEPTED_EXTENSIONS = (".csv", ".txt", ".tsv", ".parquet", ".nda", ".ndax", ".mpr", ".zip")
# The multipart envelope around the file: boundaries and part headers.
MULTIPART_SLACK_BYTES = 64 * 1024
# Uploads never imported are removed after this long.
ABANDONED_AFTER_S = 24 * 3600

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
# The folder of an upload an import has claimed: its token and this suffix.
CLAIMED_SUFFIX = ".importing"
_FOLDER = re.compile(rf"^[0-9a-f]{{32}}({re.escape(CLAIMED_SUFFIX)})?$")


class UploadError(Exception):
    """The upload is refused; `status` is the HTTP status, the message what the user reads."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    token: str
    filename: str
    path: Path
    size: int


def upload_root(settings: Settings) -> Path:
    """The folder uploads wait in: the setting web.upload_dir, else the instance folder's
    "uploads"."""
    configured = settings.web.upload_dir
    root = Path(configured) if configured else Path(settings.database.instance_dir) / "uploads"
    return root.resolve()


def describe_size(size: int) -> str:
    """Bytes as people read them: "91.0 MB", "2.1 GB", "812 B"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def too_large_message(max_bytes: int) -> str:
    return (
        f"The file is too large: the import accepts files up to {describe_size(max_bytes)} "
        "(the setting web.max_upload_bytes)."
    )


def receive_upload(environ: dict[str, Any], root: Path, max_bytes: int) -> Upload:
    """Store the one file of a multipart POST (field "file") under a new token.

    Raises UploadError: 413 when the body is over `max_bytes` (checked against the
    declared length before reading, and while reading), 400 for a missing file or an
    extension the importer does not read. Nothing is left on disk after a refusal.
    """
    declared = environ.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > max_bytes + MULTIPART_SLACK_BYTES:
        raise UploadError(too_large_message(max_bytes), 413)
    remove_abandoned(root)
    token = secrets.token_hex(16)
    folder = root / token
    stored: list[Path] = []

    def write_to_disk(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        name = _safe_name(filename or "")
        if stored:
            raise UploadError("Send one file at a time.", 400)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        stored.append(path)
        return path.open("wb+")

    try:
        _stream, _form, files = parse_form_data(
            environ,
            stream_factory=write_to_disk,
            max_content_length=max_bytes + MULTIPART_SLACK_BYTES,
            silent=False,
        )
        part = files.get("file")
        if part is None or not stored:
            raise UploadError("No file in the request (expected the form field 'file').", 400)
        part.stream.close()
        size = stored[0].stat().st_size
        if size > max_bytes:
            raise UploadError(too_large_message(max_bytes), 413)
        if size == 0:
            raise UploadError(f"{part.filename or 'The file'} is empty.", 400)
        return Upload(token, part.filename or stored[0].name, stored[0], size)
    except RequestEntityTooLarge:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadError(too_large_message(max_bytes), 413) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _safe_name(filename: str) -> str:
    """The file's name as stored: no path parts; its extension must be one we read."""
    extension = Path(filename).suffix.lower()
    if extension not in ACCEPTED_EXTENSIONS:
        shown = f"{extension!r} files" if extension else "files without an extension"
        raise UploadError(
            f"{filename or 'The file'}: {shown} cannot be imported; "
            f"accepted: {' '.join(ACCEPTED_EXTENSIONS)}.",
            400,
        )
    return secure_filename(filename) or f"upload{extension}"


def find_upload(root: Path, token: str) -> Path | None:
    """The file uploaded under `token`, or None (a malformed token never leaves `root`)."""
    if not _TOKEN.match(token or ""):
        return None
    folder = root / token
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return files[0] if files else None


def claim_upload(root: Path, token: str) -> Path | None:
    """Take the file uploaded under `token` for one import: its folder is renamed (atomic),
    so `find_upload` and any later claim find nothing. None when there is no such upload,
    or another import has claimed it already."""
    if not _TOKEN.match(token or ""):
        return None
    claimed = root / f"{token}{CLAIMED_SUFFIX}"
    try:
        (root / token).rename(claimed)
        os.utime(claimed)  # a day from now before the sweep may take it
        files = sorted(claimed.iterdir())
    except OSError:  # not there, claimed by another import, or swept meanwhile
        return None
    return files[0] if files else None


def remove_upload(root: Path, token: str) -> None:
    if _TOKEN.match(token or ""):
        shutil.rmtree(root / token, ignore_errors=True)


def remove_abandoned(root: Path, now: float | None = None) -> None:
    """Remove uploads older than ABANDONED_AFTER_S (chosen, never imported, or claimed by
    an import that never ended)."""
    if not root.is_dir():
        return
    limit = (now or time.time()) - ABANDONED_AFTER_S
    for folder in root.iterdir():
        try:
            if _FOLDER.match(folder.name) and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # removed meanwhile by another worker
