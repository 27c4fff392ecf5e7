"""The editor's Save, on the server: every field checked, every problem beside its field,
then the profile created or saved (`catalog.save_profile_edit`: in place, or as a new
version when experiments use it). Raised inside `context.session()`, an error rolls
everything back: nothing is stored half-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from datastore import catalog
from datastore.models import Profile
from domain.profiles import ProfileError, parse_profile
from domain.profiles.start_size import check_profile_start_size

# Kept in step with the profiles.name column.
NAME_LENGTH = 100
DESCRIPTION_LENGTH = 2_000
# The fields the server may comment on, each with its message slot beside it.
FIELDS = ("text", "name", "description", "form")


class FormErrors(Exception):
    """What is wrong: field name (or "form") -> a sentence for beside it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))


@dataclass(frozen=True)
class ProfileForm:
    """The editor as submitted: raw values, as the browser sends them; `editing` is the
    id of the profile edited, None for a new one."""

    text: str | None
    name: str | None
    description: str | None = None
    editing: int | None = None


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _problems(form: ProfileForm, max_steps: int, max_start_bytes: int) -> dict[str, str]:
    problems: dict[str, str] = {}
    name = (form.name or "").strip()
    if not name:
        problems["name"] = "Give the profile a name."
    elif len(name) > NAME_LENGTH:
        problems["name"] = f"At most {NAME_LENGTH} characters, got {len(name)}."
    description = (form.description or "").strip()
    if len(description) > DESCRIPTION_LENGTH:
        problems["description"] = (
            f"At most {DESCRIPTION_LENGTH:,} characters, got {len(description):,}."
        )
    if not (form.text or "").strip():
        problems["text"] = "Write or upload the profile's text."
    else:
        try:
            parsed = parse_profile(form.text or "", max_steps=max_steps)
            check_profile_start_size(parsed, max_start_bytes)
        except ProfileError as error:
            count = len(error.problems)
            first = f"{error.problems[0]}"
            more = f" (and {count - 1} more, listed above)" if count > 1 else ""
            problems["text"] = f"The text is not a valid profile: {first}{more}."
    return problems


def save_profile(
    session: Session, form: ProfileForm, *, max_steps: int, max_start_bytes: int
) -> Profile:
    """Check every field, then create or save the profile; FormErrors names each field
    that is wrong. Returns the stored row (a new version when a used profile was edited).
    `max_start_bytes` is the site's node.max_payload_bytes: a profile whose start command
    would be larger could never start, and is refused beside its text."""
    problems = _problems(form, max_steps, max_start_bytes)
    if problems:
        raise FormErrors(problems)
    name = (form.name or "").strip()
    description = (form.description or "").strip()
    text = form.text or ""
    try:
        if form.editing is None:
            return catalog.create_profile(
                session,
                name=name,
                source=text,
                description=description,
                max_steps=max_steps,
                max_start_bytes=max_start_bytes,
            )
        return catalog.save_profile_edit(
            session,
            form.editing,
            name=name,
            source=text,
            description=description,
            max_steps=max_steps,
            max_start_bytes=max_start_bytes,
        )
    except (catalog.CatalogError, ProfileError) as error:
        # Checked above; what is left is e.g. a profile removed meanwhile.
        raise FormErrors({"form": _sentence(str(error))}) from None
