"""The ids of the stations page's components, each written once here."""

from __future__ import annotations

from domain.stations import STATION_FIELDS

SHOW_DEPRECATED = "stations-show-deprecated"
BOARD = "stations-board"
MESSAGE = "stations-message"
NEW = "stations-new"

# Buttons of each station row: pattern ids {"type": EDIT, "index": station id}.
EDIT = "stations-edit"
DEPRECATE = "stations-deprecate"
REMOVE = "stations-remove"

FORM_DIALOG = "stations-form"
FORM_TITLE = "stations-form-title"
FORM_STATION = "stations-form-station"  # the station being edited; None when creating
FORM_ERROR = "stations-form-error"
UNIT_CHOICES = "stations-form-unit-choices"
SAVE = "stations-form-save"
FORM_CLOSE = "stations-form-close"
# One input and one message beside it per field of domain.stations.STATION_FIELDS.
FIELD = {field: f"stations-form-{field.replace('_', '-')}" for field in STATION_FIELDS}
FEEDBACK = {field: f"{FIELD[field]}-feedback" for field in STATION_FIELDS}

CONFIRM_DIALOG = "stations-confirm"
CONFIRM_TEXT = "stations-confirm-text"
CONFIRM_ACTION = "stations-confirm-action"  # {"action": "deprecate"|"remove", "station": id}
CONFIRM_YES = "stations-confirm-yes"
CONFIRM_NO = "stations-confirm-no"
