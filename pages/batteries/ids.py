"""The ids of the battery pages' components, each written once here.

The two forms (a new battery, the edit on a battery's page) show the same fields under
their own ids, so each page's Save reads only its own inputs.
"""

from __future__ import annotations

from domain.batteries import BATTERY_FIELDS, DESCRIPTIVE_FIELDS, TECHNOLOGIES

# The list, /batteries
GRID = "batteries-grid"
NEW = "batteries-new"
LIST_NAVIGATE = "batteries-navigate"  # a click on a row opens the battery

# One battery, /batteries/<id>
TITLE = "battery-title"
NOT_FOUND = "battery-not-found"
FACTS = "battery-facts"
EXPERIMENTS = "battery-experiments"
NEW_EXPERIMENT = "battery-new-experiment"
BATTERY_ID = "battery-id"  # store: the id of the battery shown
EDIT_SAVED = "battery-edit-saved"  # what the edit's Save did

NEW_FORM = "new"
EDIT_FORM = "edit"
# The fields each form has: a new battery all of them; the edit the descriptive ones
# (its technology stays, so only its technology's fields are shown).
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    NEW_FORM: BATTERY_FIELDS,
    EDIT_FORM: tuple(name for name in DESCRIPTIVE_FIELDS if name != "technology"),
}
DETAIL_KEYS: tuple[tuple[str, str], ...] = tuple(
    (technology, field.name) for technology, t in TECHNOLOGIES.items() for field in t.fields
)


def field(form: str, name: str) -> str:
    """The input of a common field ("name", "voltage_min", ...) in form `form`."""
    return f"battery-{form}-{name.replace('_', '-')}"


def detail(form: str, technology: str, name: str) -> str:
    """The input of a technology's own field ("chemistry" of "lithium-ion")."""
    return f"battery-{form}-{technology}-{name.replace('_', '-')}"


def message(input_id: str) -> str:
    """Where the server's message about an input shows, beside it."""
    return f"{input_id}-message"


def details_box(form: str, technology: str) -> str:
    """The group of a technology's fields, shown when that technology is chosen."""
    return f"battery-{form}-{technology}-fields"


def save(form: str) -> str:
    return f"battery-{form}-save"


def form_error(form: str) -> str:
    """A problem no field owns (e.g. the battery was removed meanwhile)."""
    return f"battery-{form}-error"


NAVIGATE = "battery-new-navigate"  # after creating, to the new-experiment form
