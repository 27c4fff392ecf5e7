"""Small helpers shared by the pages' forms."""

from __future__ import annotations


def parse_id(value: object) -> int | None:
    """A select's value as a row id; None for nothing chosen or anything not a positive id."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None
