"""The ids of the new-experiment form's components, each written once here.

The layout, the callbacks and the browser tests refer to these names.
"""

from __future__ import annotations

PREFIX = "new-experiment"

# 1. technology and 2. battery
TECHNOLOGY = f"{PREFIX}-technology"
BATTERY = f"{PREFIX}-battery"
# 3. station
STATION = f"{PREFIX}-station"
STATION_NOTE = f"{PREFIX}-station-note"  # the chosen station's state, a warning if never seen
# 4. profile: a stored one, or one written or uploaded here
PROFILE_SOURCE = f"{PREFIX}-profile-source"
STORED_SECTION = f"{PREFIX}-stored-section"
PROFILE = f"{PREFIX}-profile"
PROFILE_HINT = f"{PREFIX}-profile-hint"  # how many fit, or what to choose first
WHY_TOGGLE = f"{PREFIX}-why-toggle"
WHY_COLLAPSE = f"{PREFIX}-why-collapse"
WHY_LIST = f"{PREFIX}-why-list"
WRITE_SECTION = f"{PREFIX}-write-section"
UPLOAD = f"{PREFIX}-upload"
UPLOAD_NOTE = f"{PREFIX}-upload-note"
PROFILE_TEXT = f"{PREFIX}-profile-text"
PROFILE_CHECK = f"{PREFIX}-profile-check"  # the live check of the text
PROFILE_PROBLEMS = f"{PREFIX}-profile-problems"
PROFILE_VERDICT = f"{PREFIX}-profile-verdict"
NEW_PROFILE_NAME = f"{PREFIX}-new-profile-name"
SAVE_PROFILE = f"{PREFIX}-save-profile"
SAVE_FEEDBACK = f"{PREFIX}-save-feedback"
SAVED_PROFILE = f"{PREFIX}-saved-profile"  # store: the id of the profile saved last
# 5. name and description
NAME = f"{PREFIX}-name"
DESCRIPTION = f"{PREFIX}-description"
# 6. run conditions of the technology (domain.experiment_details)
SUBMIT = f"{PREFIX}-submit"
NAVIGATE = f"{PREFIX}-navigate"


def conditions(technology: str) -> str:
    """The section holding a technology's run conditions."""
    return f"{PREFIX}-conditions-{technology}"


def condition(name: str) -> str:
    """The input of one run condition."""
    return f"{PREFIX}-condition-{name.replace('_', '-')}"


def error(field: str) -> str:
    """Where the server's message about `field` (a form field, or "form") shows."""
    return f"{PREFIX}-{field.replace('_', '-')}-error"
