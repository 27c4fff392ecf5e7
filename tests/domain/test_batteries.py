"""A battery's data checked field by field: every broken rule at once, each under the
field it is about, within the documented plausible magnitudes."""

from __future__ import annotations

from typing import Any

import pytest

from domain.batteries import (
    BatteryProblems,
    descriptive_problems,
    details_summary,
    rating_problems,
    technology_label,
    validate_window,
)

CELL: dict[str, Any] = {
    "voltage_min": 2.5,
    "voltage_max": 4.2,
    "current_min": -6.0,
    "current_max": 3.0,
    "capacity": 3.0,
}


def problems(**changes: Any) -> dict[str, str]:
    return rating_problems(**{**CELL, **changes})


def test_a_plausible_cell_has_no_problem():
    assert problems() == {}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"voltage_max": 2.0}, "voltage_max", "must be above voltage_min (2.5 V), got 2.0"),
        ({"voltage_min": -1.0}, "voltage_min", "expected 0 V or more, got -1.0"),
        ({"voltage_max": 2000.5}, "voltage_max", "at most 2,000 V, got 2,000.5"),
        (
            {"current_min": 0.5},
            "current_min",
            "the discharge limit must be 0 A or negative, got 0.5",
        ),
        (
            {"current_max": -1.0},
            "current_max",
            "the charge limit must be 0 A or positive, got -1.0",
        ),
        ({"current_min": -10_001.0}, "current_min", "within ±10,000 A, got -10,001"),
        ({"current_max": 10_001.0}, "current_max", "within ±10,000 A, got 10,001"),
        ({"voltage_min": None}, "voltage_min", "required: a number of V"),
        ({"current_max": None}, "current_max", "required: a number of A"),
        ({"capacity": 0.0}, "capacity", "expected a positive number of Ah, got 0.0"),
        ({"capacity": 100_001.0}, "capacity", "at most 100,000 Ah, got 100,001"),
        ({"cells": 0}, "cells", "expected a whole number of at least 1, got 0"),
        ({"cells": 2.5}, "cells", "expected a whole number of at least 1, got 2.5"),
        ({"cells": 1001}, "cells", "at most 1,000 cells in series, got 1,001"),
        ({"cell_voltage_max": 10.5}, "cell_voltage_max", "at most 10 V, got 10.5"),
        (
            {"cell_voltage_min": -1.0},
            "cell_voltage_min",
            "expected a positive number of V, got -1.0",
        ),
        (
            {"cell_voltage_min": 3.0, "cell_voltage_max": 2.9},
            "cell_voltage_max",
            "must be above cell_voltage_min (3.0 V), got 2.9",
        ),
    ],
)
def test_each_rule_names_its_field(changes, field, message):
    assert problems(**changes) == {field: message}


def test_every_broken_rule_is_reported_at_once():
    found = problems(voltage_max=2.0, current_min=1.0, capacity=-1.0, cells=0)
    assert list(found) == ["voltage_max", "current_min", "capacity", "cells"]


def test_the_pack_window_must_lie_within_the_cells_window():
    pack = {**CELL, "voltage_min": 10.5, "voltage_max": 14.7, "cells": 6}
    assert rating_problems(**pack, cell_voltage_min=1.75, cell_voltage_max=2.45) == {}
    found = rating_problems(**pack, cell_voltage_min=1.8, cell_voltage_max=2.4)
    assert found == {
        "cell_voltage_min": "6 × 1.8 V = 10.8 V is above the pack's voltage_min (10.5 V): "
        "the pack window must lie within the cells' window",
        "cell_voltage_max": "6 × 2.4 V = 14.4 V is below the pack's voltage_max (14.7 V): "
        "the pack window must lie within the cells' window",
    }
    # Only one limit of the cell window given: only that one is compared.
    assert rating_problems(**pack, cell_voltage_max=2.45) == {}


def test_descriptive_fields_are_checked_and_the_details_cleaned():
    cleaned, found = descriptive_problems(
        name=" ", technology="redox-flow", details={"electrode_size_cm2": "100", "colour": "red"},
        model="m" * 101,
    )  # fmt: skip
    assert cleaned == {"electrode_size_cm2": 100.0}
    assert found == {
        "name": "must not be empty",
        "model": "at most 100 characters, got 101",
        "colour": "not a field of redox-flow batteries",
    }


def test_problems_read_as_one_line_for_the_command_line():
    error = BatteryProblems({"name": "must not be empty", "cells": "at most 1,000"})
    assert str(error) == "name: must not be empty; cells: at most 1,000"


def test_stations_keep_the_first_broken_window_rule():
    with pytest.raises(ValueError, match="^voltage_max: must be above voltage_min"):
        validate_window(2.5, 2.0, 1.0, 3.0)


def test_the_technology_reads_as_label_and_fields():
    assert technology_label("lithium-ion") == "Lithium-ion"
    assert details_summary("lithium-ion", {"chemistry": "NMC", "electrolyte": "1 M LiPF6"}) == (
        "NMC; electrolyte: 1 M LiPF6"
    )
    assert details_summary("redox-flow", {"electrode_size_cm2": 100.0}) == (
        "electrode size: 100 cm²"
    )
    assert details_summary("lead-acid", {}) == ""
