"""The ids of the profile pages' components, each written once here.

The layouts, the callbacks and the browser tests refer to these names.
"""

from __future__ import annotations

# The list, /profiles
GRID = "profiles-grid"
NEW = "profiles-new"
LIST_NAVIGATE = "profiles-navigate"  # a click on a row opens the profile

# One profile, /profiles/<id>
TITLE = "profile-title"
NOT_FOUND = "profile-not-found"
VERSIONS = "profile-versions"  # which version this is, where it came from, newer ones
EDIT = "profile-edit"
SOURCE = "profile-source"
STEP_COUNT = "profile-step-count"
ENVELOPE = "profile-envelope"
SKETCH_BATTERY = "profile-sketch-battery"  # C-rates in C, or resolved for this battery
SKETCH_NOTE = "profile-sketch-note"
SKETCH = "profile-sketch"
EXPERIMENTS = "profile-experiments"
PROFILE_ID = "profile-id"  # store: the id of the profile shown

# The editor, /profiles/new and /profiles/<id>/edit
EDITOR_TITLE = "profile-editor-title"
EDITING = "profile-editor-editing"  # store: the id of the profile edited; None for a new one
EDIT_RULE = "profile-editor-rule"  # in place, or as a new version, and why
UPLOAD = "profile-editor-upload"
UPLOAD_NOTE = "profile-editor-upload-note"
TEXT = "profile-editor-text"
CHECK = "profile-editor-check"  # the live check of the text
PROBLEMS = "profile-editor-problems"
SUMMARY = "profile-editor-summary"  # step count and envelope of a valid text
BATTERY = "profile-editor-battery"
STATION = "profile-editor-station"
VERDICT = "profile-editor-verdict"
NAME = "profile-editor-name"
DESCRIPTION = "profile-editor-description"
SAVE = "profile-editor-save"
NAVIGATE = "profile-editor-navigate"


def error(field: str) -> str:
    """Where the server's message about `field` ("name", "description", "text" or "form")
    shows, beside it."""
    return f"profile-editor-{field}-error"
