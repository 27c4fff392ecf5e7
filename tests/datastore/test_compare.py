"""Reading several experiments for the compare page: metadata with the battery details as
fields, and every cycle table in one query."""

from __future__ import annotations

from sqlalchemy import Engine, event, select, update

from datastore.compare import experiment_choices, experiment_facts, experiments_cycles
from datastore.cycles import experiment_cycles
from datastore.models import Battery, Experiment
from tests.web.lab_data import add_experiment


def test_facts_carry_the_battery_details_as_fields(engine: Engine) -> None:
    first = add_experiment(engine, "first", battery="cell 1")
    second = add_experiment(engine, "second", battery="cell 2", technology="lead-acid")
    with engine.begin() as connection:
        battery = connection.scalar(select(Experiment.battery_id).where(Experiment.id == first))
        connection.execute(
            update(Battery)
            .where(Battery.id == battery)
            .values(details={"chemistry": "NMC", "temperature_c": 45, "lot": [1, 2]})
        )
    facts = experiment_facts(engine, [first, second, 999])
    assert set(facts) == {first, second}
    assert facts[first].value("battery") == "cell 1"
    assert facts[first].value("details:chemistry") == "NMC"
    assert facts[first].value("details:temperature_c") == 45.0
    assert facts[first].value("details:lot") == "[1, 2]"
    assert facts[first].nominal_capacity_ah == 2.0
    assert facts[second].value("technology") == "lead-acid"
    assert facts[second].value("details:chemistry") is None
    assert experiment_choices(engine) == [(second, "second"), (first, "first")]


def test_every_cycle_table_in_one_query(engine: Engine) -> None:
    first = add_experiment(engine, "first", samples=4 * 3600)
    second = add_experiment(engine, "second", samples=2 * 3600)
    empty = add_experiment(engine, "queued")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        tables = experiments_cycles(engine, [first, second, empty])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert tables[empty] == []
    assert [c.cycle for c in tables[first]] == [1, 2] and len(tables[second]) == 1
    stored = experiment_cycles(engine, first)
    assert [c.discharge_ah for c in tables[first]] == [row.discharge_ah for row in stored]
    assert [c.charge_ah for c in tables[first]] == [row.charge_ah for row in stored]
