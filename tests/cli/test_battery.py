"""`bem battery add`: a battery from a script, its id on stdout, reasons on stderr."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cli import main
from datastore.models import Battery

CELL = [
    "battery", "add", "--name", "cell 1", "--technology", "lithium-ion",
    "--voltage-min", "2.5", "--voltage-max", "4.2", "--current-min", "-6", "--current-max", "3",
]  # fmt: skip


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine) -> Engine:
    """The per-test SQLite database, for the command (by URL) and for the test's checks."""
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    return sqlite_engine


def bem(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def stored_batteries(engine: Engine) -> list[Battery]:
    with Session(engine) as session:
        return list(session.scalars(select(Battery).order_by(Battery.id)))


def test_adding_a_battery_prints_only_its_id(database, capsys):
    status, out, err = bem(
        capsys, *CELL, "--capacity", "3", "--chemistry", "nmc", "--manufacturer", "ACME",
        "--model", "X1", "--serial", "42", "--cells", "1", "--description", "spare",
        "--fabrication-date", "2024-03-01",
    )  # fmt: skip
    assert (status, out, err) == (0, "1\n", "")
    (battery,) = stored_batteries(database)
    assert battery.technology == "lithium-ion"
    assert battery.details == {"chemistry": "NMC"}  # matched whatever the letter case
    assert (battery.nominal_capacity_ah, battery.manufacturer, battery.serial_number) == (
        3.0,
        "ACME",
        "42",
    )
    assert str(battery.fabrication_date) == "2024-03-01"


def test_other_technology_fields_are_given_as_details(database, capsys):
    status, out, _ = bem(
        capsys, "battery", "add", "--name", "stack", "--technology", "redox-flow",
        "--voltage-min", "0", "--voltage-max", "30", "--current-min", "-50", "--current-max", "50",
        "--detail", "membrane_type=Nafion 117", "--detail", "electrode_size_cm2=100",
    )  # fmt: skip
    assert (status, out) == (0, "1\n")
    (battery,) = stored_batteries(database)
    assert battery.details == {"membrane_type": "Nafion 117", "electrode_size_cm2": 100.0}


def test_a_duplicate_name_or_serial_is_refused_like_in_the_browser(database, capsys):
    bem(capsys, *CELL, "--serial", "42")
    status, out, err = bem(capsys, *CELL, "--serial", "43")
    assert (status, out) == (1, "")
    assert err == (
        "bem battery: name: battery 1 is called 'cell 1' already; names are unique, "
        "whatever the letter case\n"
    )
    args = [*CELL, "--serial", "42"]
    args[args.index("cell 1")] = "cell 2"
    status, out, err = bem(capsys, *args)
    assert (status, out) == (1, "")
    assert err == "bem battery: serial: battery 1 'cell 1' has serial number '42' already\n"
    assert len(stored_batteries(database)) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--voltage-max", "2"], "voltage_max: must be above voltage_min (2.5 V), got 2.0"),
        (["--current-min", "1"], "current_min: the discharge limit must be 0 A or negative"),
        (["--voltage-min", "nan"], "voltage_min: expected a finite number"),
        (["--capacity", "-3"], "capacity: expected a positive number of Ah, got -3.0"),
        (["--cells", "0"], "cells: expected a whole number of at least 1, got 0"),
        (["--chemistry", "unobtainium"], "chemistry: expected one of NMC, NCA"),
        (["--detail", "colour"], "--detail: expected FIELD=VALUE, got 'colour'"),
        (["--detail", "colour=red"], "colour: not a field of lithium-ion batteries"),
        (["--name", " "], "name: must not be empty"),
    ],
)
def test_invalid_battery_data_is_refused_on_stderr(database, capsys, options, message):
    status, out, err = bem(capsys, *CELL, *options)
    assert (status, out) == (1, "")
    assert err.startswith(f"bem battery: {message}")
    assert "Traceback" not in err
    assert stored_batteries(database) == []


def test_chemistry_belongs_to_lithium_ion_batteries(database, capsys):
    args = [*CELL, "--chemistry", "NMC"]
    args[args.index("lithium-ion")] = "lead-acid"
    status, _, err = bem(capsys, *args)
    assert status == 1
    assert err == "bem battery: chemistry: not a field of lead-acid batteries\n"


def test_a_missing_option_is_a_usage_error(database, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["battery", "add", "--name", "x", "--technology", "lithium-ion"])
    assert exited.value.code == 2
    assert "--voltage-min" in capsys.readouterr().err


def test_an_unknown_technology_is_a_usage_error(database, capsys):
    args = [*CELL]
    args[args.index("lithium-ion")] = "steam"
    with pytest.raises(SystemExit):
        main(args)
    assert "invalid choice: 'steam'" in capsys.readouterr().err


# ---------------------------------------------------------------- list


def test_list_prints_a_header_and_one_row_per_battery_by_id(database, capsys):
    bem(
        capsys,
        *CELL,
        "--capacity",
        "3",
        "--manufacturer",
        "ACME",
        "--model",
        "X1",
        "--serial",
        "42",
    )
    bem(
        capsys, "battery", "add", "--name", "flow\tstack", "--technology", "redox-flow",
        "--voltage-min", "0", "--voltage-max", "30", "--current-min", "-50", "--current-max", "50",
    )  # fmt: skip
    status, out, err = bem(capsys, "battery", "list")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "id\tname\ttechnology\tmanufacturer\tmodel\tserial_number\tnominal_capacity_ah\t"
        "voltage_min\tvoltage_max\tcurrent_min\tcurrent_max",
        "1\tcell 1\tlithium-ion\tACME\tX1\t42\t3.0\t2.5\t4.2\t-6.0\t3.0",
        "2\tflow stack\tredox-flow\t\t\t\t\t0.0\t30.0\t-50.0\t50.0",
    ]


def test_list_of_no_batteries_is_the_header_only(database, capsys):
    status, out, _ = bem(capsys, "battery", "list")
    assert (status, out.count("\n"), out.split("\t")[0]) == (0, 1, "id")
