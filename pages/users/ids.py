"""The ids of the users page's components, each written once here."""

from __future__ import annotations

TABLE = "users-table"
REFUSED = "users-refused"  # what a role below admin sees instead of the page

# Adding a user.
ADD_NAME = "users-add-name"
ADD_ROLE = "users-add-role"
ADD_PASSWORD = "users-add-password"
ADD_AGAIN = "users-add-again"
ADD = "users-add"
ADD_MESSAGE = "users-add-message"
ADDED = "users-added"  # a count of additions, for the table to follow

# Changing one user.
USER = "users-change-user"
ROLE = "users-change-role"
SET_ROLE = "users-set-role"
DISABLE = "users-disable"
ENABLE = "users-enable"
PASSWORD = "users-change-password"
AGAIN = "users-change-again"
SET_PASSWORD = "users-set-password"
CHANGE_MESSAGE = "users-change-message"
CHANGED = "users-changed"  # a count of changes, for the table to follow

# The fields each form comments on, with a message slot beside each ("form": the rest).
ADD_FIELDS = ("name", "role", "password", "form")
CHANGE_FIELDS = ("user", "role", "status", "password", "form")


def add_error(field: str) -> str:
    return f"users-add-{field}-error"


def change_error(field: str) -> str:
    return f"users-change-{field}-error"
