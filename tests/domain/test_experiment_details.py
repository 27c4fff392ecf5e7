"""Run conditions of an experiment: which technologies record them, how they are checked,
and how they read once stored."""

from __future__ import annotations

import pytest

from domain.experiment_details import (
    DetailsError,
    describe_details,
    experiment_fields,
    validate_experiment_details,
)

FLOW = {
    "electrolyte_volume_l": "2.5",
    "initial_soc_percent": "50",
    "flow_rate_min_l_per_min": 0.2,
    "flow_rate_max_l_per_min": "1.5",
}


def problems(technology: str, values: dict[str, object]) -> dict[str, str]:
    with pytest.raises(DetailsError) as caught:
        validate_experiment_details(technology, values)
    return caught.value.problems


def test_only_redox_flow_experiments_record_run_conditions() -> None:
    assert [f.name for f in experiment_fields("redox-flow")] == list(FLOW)
    assert experiment_fields("lithium-ion") == ()
    assert experiment_fields(None) == ()


def test_redox_flow_conditions_are_cleaned_to_floats() -> None:
    assert validate_experiment_details("redox-flow", FLOW) == {
        "electrolyte_volume_l": 2.5,
        "initial_soc_percent": 50.0,
        "flow_rate_min_l_per_min": 0.2,
        "flow_rate_max_l_per_min": 1.5,
    }


def test_a_state_of_charge_of_0_and_of_100_percent_is_allowed_and_equal_flow_rates_too() -> None:
    for soc in ("0", "100"):
        values = {**FLOW, "initial_soc_percent": soc, "flow_rate_max_l_per_min": "0.2"}
        assert validate_experiment_details("redox-flow", values)["initial_soc_percent"] == float(
            soc
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("electrolyte_volume_l", "", "required: a number of L"),
        ("electrolyte_volume_l", None, "required: a number of L"),
        ("electrolyte_volume_l", "abc", "expected a number of L, got 'abc'"),
        ("electrolyte_volume_l", "0", "expected a positive number of L, got 0"),
        ("electrolyte_volume_l", "-1", "expected a positive number of L, got -1"),
        ("electrolyte_volume_l", "inf", "expected a finite number of L, got 'inf'"),
        ("initial_soc_percent", "101", "expected 0 to 100 %, got 101"),
        ("initial_soc_percent", "-0.5", "expected 0 to 100 %, got -0.5"),
        ("flow_rate_min_l_per_min", "0", "expected a positive number of L/min, got 0"),
        ("flow_rate_max_l_per_min", True, "expected a number of L/min, got True"),
        (
            "flow_rate_max_l_per_min",
            "0.1",
            "must be at least the minimum (0.2 L/min), got 0.1 L/min",
        ),
    ],
)
def test_a_bad_condition_is_named_with_what_is_wrong(
    field: str, value: object, message: str
) -> None:
    assert problems("redox-flow", {**FLOW, field: value}) == {field: message}


def test_every_problem_is_reported_at_once() -> None:
    found = problems("redox-flow", {"initial_soc_percent": "150"})
    assert set(found) == set(FLOW)


def test_other_technologies_take_no_conditions_but_refuse_one_given() -> None:
    assert validate_experiment_details("lithium-ion", {}) == {}
    assert validate_experiment_details("lithium-ion", {"electrolyte_volume_l": ""}) == {}
    assert problems("lead-acid", {"electrolyte_volume_l": 3}) == {
        "electrolyte_volume_l": "not recorded for lead-acid experiments"
    }
    assert problems("steam", {}) == {
        "technology": "expected one of lithium-ion, lead-acid, redox-flow, sodium-ion, other, "
        "got 'steam'"
    }


def test_stored_conditions_read_with_their_labels_and_units_in_order() -> None:
    stored = validate_experiment_details("redox-flow", FLOW)
    assert describe_details(dict(reversed(stored.items()))) == [
        ("Electrolyte volume", "2.5 L"),
        ("Initial state of charge", "50 %"),
        ("Flow rate, minimum", "0.2 L/min"),
        ("Flow rate, maximum", "1.5 L/min"),
    ]
    assert describe_details(None) == []
    assert describe_details({"pump": "P-7"}) == [("pump", "P-7")]
