"""Demo data: a small, believable cycling lab to explore the app on a fresh database.

`seed_demo_data(sessions)` fills an empty database once, in one transaction, with:

- fifteen batteries of four technologies (NMC 18650 cells, LFP prismatic cells, a 12 V
  AGM block, a five-cell vanadium redox-flow stack, a sodium-ion cell), one of them faded;
- the computational unit "demo-unit" with six stations (`DEMO_STATIONS`);
- eleven profiles written in the profile language (docs/profiles.md);
- finished experiments whose samples come from running each profile on the equivalent-
  circuit model of its battery (`simulation.profile_runner.run_to_completion`), with a `temp_body`
  channel and a little measurement noise; one run stopped by a safety alarm (ERROR),
  one CANCELLED and three QUEUED experiments; two experiments imported from other labs;
- for the cycle analysis: a cycle-life test of 400 cycles whose cell fades below 80 %,
  an electrolyte study of six cells of one model in two groups (standard electrolyte, and
  with 2 % vinylene carbonate, which fades more slowly), each cell with its own capacity
  and fade, and a rate-capability test (C/2, 1C, 2C). The fade is the battery model's
  (`fade_per_cycle`), so capacity, retention and dQ/dV come out of the physics.

Everything is placed in the days before `now`, and the noise is seeded, so two seeds at
the same moment give the same data. The cycler model does the physics; this module only
tells the lab's story.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, default_settings
from datastore.catalog import (
    battery_window,
    cancel_experiment,
    create_battery,
    create_profile,
    create_station,
    parsed_profile,
    queue_experiment,
)
from datastore.cycles import rebuild_cycles
from datastore.ingest import ExtraValueRow, SampleRow, channel_ids, insert_alarm, insert_samples
from datastore.models import Battery, Experiment, Profile, Station
from datastore.types import utcnow
from domain.profiles import ExpandedStep, expand_profile
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from simulation.battery_model import BatteryModel, BatteryParameters, parameters_for
from simulation.profile_runner import (
    DEFAULT_CURRENT_CHANGE_PER_SUBSTEP,
    TEMPERATURE_CHANNEL,
    Alarm,
    Sample,
    run_to_completion,
)


@dataclass(frozen=True)
class ProfileLimits:
    """The site's limits on a profile, as the catalogue checks them: expanded steps
    (profiles.max_steps) and the start command's bytes (node.max_payload_bytes)."""

    max_steps: int
    max_start_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> ProfileLimits:
        return cls(settings.profiles.max_steps, settings.node.max_payload_bytes)


# The default settings' limits, for callers that pass none.
DEFAULT_LIMITS = ProfileLimits.of(default_settings())

DEMO_UNIT = "demo-unit"
TEMPERATURE_UNIT = "°C"

# Rows per insert: large enough to amortise round trips, small enough for any driver.
_BATCH = 2000
# Runs of more steps than this (the cycle-life tests) control CV holds more coarsely.
LONG_RUN_STEPS = 200
_LONG_RUN_CURRENT_CHANGE = 0.08
# Time an operator needs between two runs on one station (unmount, check, mount).
_CHANGEOVER = dt.timedelta(minutes=80)


# ---------------------------------------------------------------- the lab's equipment


@dataclass(frozen=True)
class DemoStation:
    """A station of the demo unit, and the surroundings its batteries sit in.

    `ambient_c` and `cooling_factor` (relative to still air) only shape the simulated
    `temp_body` readings; simulated cyclers announce `spec` unchanged.
    """

    spec: StationSpec
    devices: tuple[tuple[str, str], ...]  # (kind, model)
    ambient_c: float = 25.0
    cooling_factor: float = 1.0

    def as_columns(self) -> dict[str, Any]:
        """The keyword arguments of `create_station` for this station."""
        window = self.spec.window
        return {
            "name": self.spec.name,
            "location": self.spec.location,
            "voltage_min": window.voltage_min,
            "voltage_max": window.voltage_max,
            "current_min": window.current_min,
            "current_max": window.current_max,
            "devices": [{"kind": kind, "model": model} for kind, model in self.devices],
        }


_CELL_CHANNEL = (("bipolar source/sink", "BCS-5V-10A"), ("thermocouple input", "TC-8 type K"))
DEMO_STATIONS: tuple[DemoStation, ...] = (
    # The four cell channels sit in a climate chamber whose fan cools the cells.
    *(
        DemoStation(
            StationSpec(
                f"ch{number}",
                Window(0.0, 5.0, -10.0, 10.0),
                location=f"climate chamber CC-1 (25 °C), slot {number}",
            ),
            _CELL_CHANNEL,
            ambient_c=25.0,
            cooling_factor=2.0,
        )
        for number in range(1, 5)
    ),
    DemoStation(
        StationSpec("ch5", Window(0.0, 6.0, -60.0, 60.0), location="bench B, high-current channel"),
        (("power supply", "PSU-6V-60A"), ("electronic load", "EL-60A"), ("thermocouple", "K")),
        ambient_c=23.0,
    ),
    DemoStation(
        StationSpec(
            "ch6", Window(0.0, 60.0, -30.0, 30.0), location="bench C, module and stack channel"
        ),
        (("power supply", "PSU-60V-30A"), ("electronic load", "EL-60V-30A"), ("PT100", "4-wire")),
        ambient_c=22.0,
    ),
)


@dataclass(frozen=True)
class _DemoBattery:
    """A battery's catalogue record and how the specimen really is (capacity, resistance)."""

    record: dict[str, Any]
    capacity_factor: float = 1.0  # real capacity / nominal
    resistance_factor: float = 1.0  # real resistance / typical
    fade_per_cycle: float = 0.0  # capacity lost per equivalent full cycle (battery model)

    @property
    def name(self) -> str:
        return self.record["name"]


def _nmc_18650(
    number: int | str,
    serial: str,
    made: dt.date,
    description: str = "",
    details: dict[str, str] | None = None,
    **condition: float,
) -> _DemoBattery:
    return _DemoBattery(
        {
            "name": f"NMC18650-{number:02d}" if isinstance(number, int) else f"NMC18650-{number}",
            "technology": "lithium-ion",
            "manufacturer": "Voltaris Cells",
            "model": "VC18650-25P",
            "serial_number": serial,
            "fabrication_date": made,
            "description": description,
            "voltage_min": 2.5,
            "voltage_max": 4.2,
            "current_min": -5.0,
            "current_max": 2.5,
            "nominal_capacity_ah": 2.5,
            "details": {"chemistry": "NMC", **(details or {})},
        },
        **condition,
    )


# The electrolyte study: six cells of one batch, three with the maker's standard
# electrolyte and three with 2 % vinylene carbonate added, which slows their fade. Each
# cell has its own capacity and fade, as real cells of one batch do.
_STANDARD_ELECTROLYTE = "1 M LiPF6 in EC/EMC"
_ELECTROLYTE_STUDY = tuple(
    _nmc_18650(
        f"E{number}",
        f"VC25P-250602-{1100 + number:04d}",
        dt.date(2025, 6, 2),
        f"Electrolyte study: {electrolyte}.",
        details={"electrolyte": electrolyte},
        capacity_factor=capacity,
        fade_per_cycle=fade,
    )
    for number, electrolyte, capacity, fade in (
        (1, _STANDARD_ELECTROLYTE, 1.004, 0.00135),
        (2, _STANDARD_ELECTROLYTE, 0.996, 0.00150),
        (3, _STANDARD_ELECTROLYTE, 1.001, 0.00120),
        (4, f"{_STANDARD_ELECTROLYTE} + 2 % VC", 0.998, 0.00062),
        (5, f"{_STANDARD_ELECTROLYTE} + 2 % VC", 1.003, 0.00075),
        (6, f"{_STANDARD_ELECTROLYTE} + 2 % VC", 0.993, 0.00055),
    )
)


def _lfp_prismatic(
    number: int, serial: str, made: dt.date, description: str = "", **condition: float
) -> _DemoBattery:
    return _DemoBattery(
        {
            "name": f"LFP20-{number:02d}",
            "technology": "lithium-ion",
            "manufacturer": "Ferron Energy",
            "model": "FE-LFP20P",
            "serial_number": serial,
            "fabrication_date": made,
            "description": description,
            "voltage_min": 2.5,
            "voltage_max": 3.65,
            "current_min": -40.0,
            "current_max": 20.0,
            "nominal_capacity_ah": 20.0,
            "details": {"chemistry": "LFP"},
        },
        **condition,
    )


_BATTERIES: tuple[_DemoBattery, ...] = (
    _nmc_18650(
        1,
        "VC25P-240311-0417",
        dt.date(2024, 3, 11),
        "Reference cell of batch 24-03; fresh at the start of the test plan.",
        capacity_factor=1.003,
    ),
    _nmc_18650(
        2,
        "VC25P-220907-0102",
        dt.date(2022, 9, 7),
        "Returned from a field e-bike pack after about 600 cycles.",
        capacity_factor=0.78,
        resistance_factor=1.45,
    ),
    _nmc_18650(3, "VC25P-240311-0422", dt.date(2024, 3, 11), capacity_factor=0.995),
    _nmc_18650(
        4,
        "VC25P-240311-0431",
        dt.date(2024, 3, 11),
        "Long-term ageing at 1C/1C in the climate chamber.",
        capacity_factor=1.0,
        fade_per_cycle=0.0006,
    ),
    *_ELECTROLYTE_STUDY,
    _lfp_prismatic(
        1,
        "FE20-2501-00871",
        dt.date(2025, 1, 14),
        "Prismatic aluminium can, M6 terminals, clamped at 300 kPa.",
        capacity_factor=1.01,
    ),
    _lfp_prismatic(2, "FE20-2501-00872", dt.date(2025, 1, 14), capacity_factor=1.005),
    _DemoBattery(
        {
            "name": "AGM12-01",
            "technology": "lead-acid",
            "manufacturer": "Plumbum Power",
            "model": "PP12-7.2",
            "serial_number": "PP7-2311-5520",
            "fabrication_date": dt.date(2023, 11, 20),
            "description": "12 V VRLA block for UPS duty, 20-hour rating 7.2 Ah.",
            "cells_in_series": 6,
            "voltage_min": 10.5,
            "voltage_max": 14.7,
            "current_min": -7.2,
            "current_max": 2.16,
            "cell_voltage_min": 1.75,
            "cell_voltage_max": 2.45,
            "nominal_capacity_ah": 7.2,
            "details": {"lead_acid_type": "AGM"},
        },
        capacity_factor=0.97,
    ),
    _DemoBattery(
        {
            "name": "VRFB5-01",
            "technology": "redox-flow",
            "manufacturer": "Vanadis Flow",
            "model": "VFS-5C-100",
            "serial_number": "VFS-0042",
            "fabrication_date": dt.date(2024, 6, 3),
            "description": (
                "Five-cell vanadium stack with 2 x 0.5 L electrolyte; peristaltic pumps at "
                "60 mL/min per side."
            ),
            "cells_in_series": 5,
            "voltage_min": 5.0,
            "voltage_max": 8.5,
            "current_min": -30.0,
            "current_max": 30.0,
            "cell_voltage_min": 1.0,
            "cell_voltage_max": 1.7,
            "nominal_capacity_ah": 20.0,
            "details": {
                "electrode_size_cm2": 100,
                "electrode_composition": "thermally activated graphite felt, 4.6 mm",
                "bipolar_plate_type": "graphite-polymer composite, 0.6 mm",
                "membrane_type": "perfluorosulfonic acid, 50 µm",
                "electrolyte_type": "1.6 M vanadium in 2 M H2SO4, 0.5 L per side",
            },
        },
    ),
    _DemoBattery(
        {
            "name": "NaIon18650-01",
            "technology": "sodium-ion",
            "manufacturer": "Sodalis",
            "model": "SN18650-13",
            "serial_number": "SN13-2502-0031",
            "fabrication_date": dt.date(2025, 2, 10),
            "description": "Sample cell for the sodium-ion evaluation.",
            "voltage_min": 1.5,
            "voltage_max": 4.0,
            "current_min": -2.6,
            "current_max": 1.3,
            "nominal_capacity_ah": 1.3,
            "details": {"cathode": "layered oxide (Ni-Fe-Mn)", "anode": "hard carbon"},
        },
        capacity_factor=0.98,
    ),
)


# ---------------------------------------------------------------- profiles (docs/profiles.md)

_PROFILES: tuple[tuple[str, str, str], ...] = (
    (
        "CC-CV charge C/2 to 4.2 V",
        "Standard charge of NMC cells.",
        """# CC-CV charge of a 4.2 V lithium-ion cell
CC, 0.5C, VOLTAGE, 4.2
CV, 4.2, CURRENT, 0.05C
WAIT, 600
""",
    ),
    (
        "CC discharge 1C to 2.75 V",
        "Full discharge at 1C, then a rest.",
        """# Full discharge at 1C
CC, -1C, VOLTAGE, 2.75
WAIT, 1800
""",
    ),
    (
        "NMC cycling, 3 cycles (C/2 CC-CV, 1C)",
        "Check-up cycling of NMC cells.",
        """# Three full cycles: CC-CV charge at C/2, rest, 1C discharge, rest
REPEAT 3
    CC, 0.5C, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.05C
    WAIT, 900
    CC, -1C, VOLTAGE, 2.75
    WAIT, 900
END
""",
    ),
    (
        "LFP cycling, 5 cycles (C/2 CC-CV, 1C)",
        "Cycling of LFP cells between 2.5 and 3.65 V.",
        """# Five full cycles of an LFP cell
REPEAT 5
    CC, 0.5C, VOLTAGE, 3.65
    CV, 3.65, CURRENT, 0.05C
    WAIT, 900
    CC, -1C, VOLTAGE, 2.5
    WAIT, 900
END
""",
    ),
    (
        "NMC ageing, 400 cycles (1C CC-CV, 1C)",
        "Cycle life at 1C charge and discharge between 2.75 and 4.2 V.",
        """# Cycle life: 1C CC-CV charge, 1C discharge, short rests, 400 times
REPEAT 400
    CC, 1C, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.1C
    WAIT, 300
    CC, -1C, VOLTAGE, 2.75
    WAIT, 300
END
""",
    ),
    (
        "NMC cycling, 120 cycles (1C CC-CV, 1C)",
        "The electrolyte study's cycling: 1C CC-CV charge and 1C discharge.",
        """# 120 cycles at 1C, as in the electrolyte study
REPEAT 120
    CC, 1C, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.1C
    WAIT, 300
    CC, -1C, VOLTAGE, 2.75
    WAIT, 300
END
""",
    ),
    (
        "Rate capability C/2, 1C, 2C (NMC)",
        "Discharge capacity at three rates, each after a full C/2 CC-CV charge.",
        """# Rate capability: the same charge each time, discharges at C/2, 1C and 2C
REPEAT 2
    CC, 0.5C, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.05C
    WAIT, 600
    CC, -0.5C, VOLTAGE, 2.75
    WAIT, 600
    CC, 0.5C, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.05C
    WAIT, 600
    CC, -1C, VOLTAGE, 2.75
    WAIT, 600
    CC, 0.5C, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.05C
    WAIT, 600
    CC, -2C, VOLTAGE, 2.75
    WAIT, 600
END
""",
    ),
    (
        "CP cycling 60 W / 50 W (5-cell VRFB)",
        "Constant-power test of a five-cell flow stack, 1.1 to 1.6 V per cell.",
        """# Constant-power cycling of a five-cell stack
REPEAT 3
    CP, 60, VOLTAGE, 8.0
    WAIT, 300
    CP, -50, VOLTAGE, 5.5
    WAIT, 300
END
""",
    ),
    (
        "Pulse test, 10 % SOC steps",
        "HPPC-style: 10 s discharge and charge pulses at every 10 % of charge.",
        """# Full charge, then nine times: 10 % out, rest, a discharge and a charge pulse
CC, 0.5C, VOLTAGE, 3.95
CV, 3.95, CURRENT, 0.05C
WAIT, 1800
REPEAT 9
    CC, -0.5C, TIME, 720
    WAIT, 1800
    CC, -1C, TIME, 10
    WAIT, 40
    CC, 0.75C, TIME, 10
    WAIT, 40
END
""",
    ),
    (
        "AGM 12 V: 50 % DoD cycling, 3 cycles",
        "Partial cycling of a 7.2 Ah block: 3.6 Ah out at C/5, recharge to 14.4 V.",
        """# 50 % depth-of-discharge cycling of a 12 V AGM block
REPEAT 3
    CC, -1.44, CAPACITY, 3.6
    WAIT, 1800
    CC, 1.44, VOLTAGE, 14.4
    CV, 14.4, CURRENT, 0.15
    WAIT, 1800
END
""",
    ),
    (
        "80 % DoD cycling, 2.5 Ah cells",
        "Full charge, then 2.0 Ah out and back in, ten times.",
        """# 80 % depth of discharge of a 2.5 Ah cell
CC, 0.5C, VOLTAGE, 4.2
CV, 4.2, CURRENT, 0.05C
REPEAT 10
    CC, -1C, CAPACITY, 2.0
    WAIT, 600
    CC, 0.5C, CAPACITY, 2.0
    WAIT, 600
END
""",
    ),
)


# ---------------------------------------------------------------- what happened in the lab


@dataclass(frozen=True)
class _Run:
    """A run that has ended; the cycler model decides how (FINISHED or ERROR) and how long.

    Runs on a station are listed in the order they ran. A run without a station was
    imported from a file, `imported_days_ago`, having finished `finished_days_ago`; its
    profile is only what the other lab ran and is not linked to the experiment.
    """

    name: str
    battery: str
    profile: str
    station: str | None
    start_soc: float
    sample_period_s: float
    description: str = ""
    finished_days_ago: float = 0.0
    imported_days_ago: float = 0.0


_RUNS: tuple[_Run, ...] = (
    # The electrolyte study came first: two cells at a time on ch1 to ch3.
    *(
        _Run(
            f"{cell.name} electrolyte study, 120 cycles",
            cell.name,
            "NMC cycling, 120 cycles (1C CC-CV, 1C)",
            f"ch{index % 3 + 1}",
            start_soc=0.3,
            sample_period_s=120,
            description="Electrolyte study: cycle life with and without 2 % VC.",
        )
        for index, cell in enumerate(_ELECTROLYTE_STUDY)
    ),
    _Run(
        "NMC18650-04 ageing, 400 cycles",
        "NMC18650-04",
        "NMC ageing, 400 cycles (1C CC-CV, 1C)",
        "ch4",
        start_soc=0.3,
        sample_period_s=60,
        description="Cycle life of batch 24-03 at 1C/1C, 25 °C.",
    ),
    _Run(
        "NMC18650-01 check-up, 3 cycles",
        "NMC18650-01",
        "NMC cycling, 3 cycles (C/2 CC-CV, 1C)",
        "ch1",
        start_soc=0.35,
        sample_period_s=10,
        description="Entry check of batch 24-03.",
    ),
    _Run(
        "NMC18650-01 rate capability",
        "NMC18650-01",
        "Rate capability C/2, 1C, 2C (NMC)",
        "ch1",
        start_soc=0.02,
        sample_period_s=10,
    ),
    _Run(
        "NMC18650-02 80 % DoD cycling",
        "NMC18650-02",
        "80 % DoD cycling, 2.5 Ah cells",
        "ch2",
        start_soc=0.45,
        sample_period_s=10,
        description="Ageing study of field-returned cells.",
    ),
    _Run(
        "NMC18650-02 recharge after the stop",
        "NMC18650-02",
        "CC-CV charge C/2 to 4.2 V",
        "ch2",
        start_soc=0.0,
        sample_period_s=5,
        description="Bring the cell back to full charge before a capacity check.",
    ),
    _Run(
        "NaIon18650-01 pulse test",
        "NaIon18650-01",
        "Pulse test, 10 % SOC steps",
        "ch3",
        start_soc=0.4,
        sample_period_s=5,
    ),
    _Run(
        "LFP20-01 cycling, 5 cycles",
        "LFP20-01",
        "LFP cycling, 5 cycles (C/2 CC-CV, 1C)",
        "ch5",
        start_soc=0.3,
        sample_period_s=10,
    ),
    _Run(
        "AGM12-01 50 % DoD, 3 cycles",
        "AGM12-01",
        "AGM 12 V: 50 % DoD cycling, 3 cycles",
        "ch6",
        start_soc=0.95,
        sample_period_s=10,
    ),
    _Run(
        "VRFB5-01 constant-power cycling",
        "VRFB5-01",
        "CP cycling 60 W / 50 W (5-cell VRFB)",
        "ch6",
        start_soc=0.2,
        sample_period_s=10,
        description="Flow 60 mL/min per side, electrolyte at 22 °C.",
    ),
    _Run(
        "LFP20-02 cycling (supplier data)",
        "LFP20-02",
        "LFP cycling, 5 cycles (C/2 CC-CV, 1C)",
        None,
        start_soc=0.3,
        sample_period_s=20,
        description="Imported from the supplier's acceptance test, file FE20-00872.csv.",
        finished_days_ago=12,
        imported_days_ago=6,
    ),
    _Run(
        "NMC18650-03 check-up (partner lab)",
        "NMC18650-03",
        "NMC cycling, 3 cycles (C/2 CC-CV, 1C)",
        None,
        start_soc=0.35,
        sample_period_s=10,
        description="Imported from the partner lab's export, file VC25P-0422_checkup.csv.",
        finished_days_ago=9,
        imported_days_ago=5,
    ),
)

# When each station's last run ended, before the moment of seeding.
_STATION_IDLE_SINCE = {
    "ch1": dt.timedelta(hours=2, minutes=40),
    "ch2": dt.timedelta(hours=7, minutes=15),
    "ch3": dt.timedelta(hours=11, minutes=30),
    "ch4": dt.timedelta(hours=9, minutes=45),
    "ch5": dt.timedelta(hours=5, minutes=5),
    "ch6": dt.timedelta(hours=3, minutes=20),
}


@dataclass(frozen=True)
class _Pending:
    """An experiment queued (and possibly cancelled) `created_ago` before seeding."""

    name: str
    battery: str
    profile: str
    station: str
    created_ago: dt.timedelta
    cancelled_ago: dt.timedelta | None = None
    description: str = ""


_PENDING: tuple[_Pending, ...] = (
    _Pending(
        "NMC18650-02 80 % DoD cycling, second try",
        "NMC18650-02",
        "80 % DoD cycling, 2.5 Ah cells",
        "ch2",
        created_ago=dt.timedelta(hours=6, minutes=50),
        cancelled_ago=dt.timedelta(hours=6, minutes=20),
        description="Cancelled: the cell has faded below 2 Ah; a capacity check comes first.",
    ),
    _Pending(
        "NMC18650-02 capacity check",
        "NMC18650-02",
        "CC discharge 1C to 2.75 V",
        "ch2",
        created_ago=dt.timedelta(hours=6, minutes=10),
    ),
    _Pending(
        "NMC18650-01 check-up after the rate test",
        "NMC18650-01",
        "NMC cycling, 3 cycles (C/2 CC-CV, 1C)",
        "ch1",
        created_ago=dt.timedelta(hours=2, minutes=5),
    ),
    _Pending(
        "VRFB5-01 constant-power cycling, repeat",
        "VRFB5-01",
        "CP cycling 60 W / 50 W (5-cell VRFB)",
        "ch6",
        created_ago=dt.timedelta(minutes=45),
    ),
)


# ---------------------------------------------------------------- seeding


def database_in_use(session: Session) -> bool:
    """Whether the database holds batteries or experiments (the demo's, or anyone's).

    The demo never mixes its records into a database that is already in use.
    """
    return (
        session.scalar(select(Battery.id).limit(1)) is not None
        or session.scalar(select(Experiment.id).limit(1)) is not None
    )


def seed_demo_data(
    sessions: sessionmaker[Session],
    *,
    now: dt.datetime | None = None,
    limits: ProfileLimits = DEFAULT_LIMITS,
) -> bool:
    """Fill an empty database with the demo lab; False (and nothing written) if not empty.

    One transaction: a failure leaves the database as it was. `now` (default: the
    current time) is the moment the demo's history leads up to; `limits` are the site's
    (`ProfileLimits.of(settings)`), checked on every profile and experiment stored.
    """
    now = (now or utcnow()).replace(microsecond=0)
    with sessions.begin() as session:
        if database_in_use(session):
            return False
        batteries = {spec.name: create_battery(session, **spec.record) for spec in _BATTERIES}
        stations = {
            station.spec.name: create_station(session, unit_name=DEMO_UNIT, **station.as_columns())
            for station in DEMO_STATIONS
        }
        profiles = {
            name: create_profile(
                session,
                name=name,
                description=description,
                source=source,
                max_steps=limits.max_steps,
                max_start_bytes=limits.max_start_bytes,
            )
            for name, description, source in _PROFILES
        }
        recordings = [
            _simulate(run, batteries[run.battery], profiles[run.profile]) for run in _RUNS
        ]
        records: list[tuple[dt.datetime, _TimedRun | _Pending]] = [
            (timed.created_at, timed) for timed in _place_in_time(recordings, now)
        ]
        records += [(now - pending.created_ago, pending) for pending in _PENDING]
        # Ids follow creation time, as they would have in the lab.
        for created_at, record in sorted(records, key=lambda item: item[0]):
            if isinstance(record, _TimedRun):
                _store_run(session, record, batteries, stations, profiles, limits)
            else:
                _store_pending(
                    session, record, created_at, now, batteries, stations, profiles, limits
                )
    return True


@dataclass(frozen=True)
class _Recording:
    """What the cycler logged during a run, times relative to its start."""

    run: _Run
    samples: list[Sample]
    outcome: ExperimentStatus
    alarms: list[Alarm]

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.samples[-1].t)


@dataclass(frozen=True)
class _TimedRun:
    recording: _Recording
    created_at: dt.datetime
    began_at: dt.datetime

    @property
    def run(self) -> _Run:
        return self.recording.run

    @property
    def finished_at(self) -> dt.datetime:
        return self.began_at + self.recording.duration


def _battery_spec(name: str) -> _DemoBattery:
    return next(spec for spec in _BATTERIES if spec.name == name)


def _demo_station(name: str | None) -> DemoStation | None:
    return next((station for station in DEMO_STATIONS if station.spec.name == name), None)


def _simulate(run: _Run, battery: Battery, profile: Profile) -> _Recording:
    """Run the profile on a model of this very specimen, in its station's surroundings."""
    assert battery.nominal_capacity_ah is not None
    spec = _battery_spec(run.battery)
    station = _demo_station(run.station)
    # The same expansion queue_experiment stores, so the steps match the samples.
    steps = expand_profile(parsed_profile(profile), battery.nominal_capacity_ah)
    details = battery.details or {}
    parameters = parameters_for(
        battery.technology,
        battery.nominal_capacity_ah * spec.capacity_factor,
        battery.cells_in_series,
        details.get("chemistry") or details.get("lead_acid_type"),
    )
    parameters = dataclasses.replace(
        parameters,
        r0_ohm=parameters.r0_ohm * spec.resistance_factor,
        r1_ohm=parameters.r1_ohm * spec.resistance_factor,
        cooling_w_per_k=parameters.cooling_w_per_k * (station.cooling_factor if station else 1.0),
        ambient_c=station.ambient_c if station else parameters.ambient_c,
        fade_per_cycle=spec.fade_per_cycle,
    )
    samples, outcome, alarms = _run(
        tuple(steps), parameters, run.start_soc, _window(battery, station), run.sample_period_s
    )
    return _Recording(run, samples, outcome, alarms)


@functools.lru_cache(maxsize=64)
def _run(
    steps: tuple[ExpandedStep, ...],
    parameters: BatteryParameters,
    start_soc: float,
    window: Window,
    sample_period_s: float,
) -> tuple[list[Sample], ExperimentStatus, list[Alarm]]:
    """The model's run, remembered: the same run seeded again (each test database, a
    second demo database in one process) costs nothing. Callers only read the lists."""
    samples, outcome, alarms = run_to_completion(
        steps,
        BatteryModel(parameters, soc=start_soc),
        window,
        sample_period_s,
        # Hundreds of CV holds: a coarser control of the current keeps seeding quick,
        # and at these sample periods the curves look the same.
        current_change_per_substep=_LONG_RUN_CURRENT_CHANGE
        if len(steps) > LONG_RUN_STEPS
        else DEFAULT_CURRENT_CHANGE_PER_SUBSTEP,
    )
    assert outcome is not None  # without max_samples the run always ends
    return samples, outcome, alarms


def _window(battery: Battery, station: DemoStation | None) -> Window:
    """The battery's window, narrowed by the station's when there is one."""
    window = battery_window(battery)
    return window if station is None else window.intersect(station.spec.window)


def _place_in_time(recordings: list[_Recording], now: dt.datetime) -> list[_TimedRun]:
    """When each run was created and began: back to back on each station, imports apart.

    Walks backwards from each station's last run, which ended `_STATION_IDLE_SINCE` ago.
    """
    timed: list[_TimedRun] = []
    next_began: dict[str, dt.datetime] = {}
    for recording in reversed(recordings):
        run = recording.run
        if run.station is None:
            finished = now - dt.timedelta(days=run.finished_days_ago)
            created = now - dt.timedelta(days=run.imported_days_ago)
            timed.append(_TimedRun(recording, created, finished - recording.duration))
            continue
        if run.station in next_began:
            finished = next_began[run.station] - _CHANGEOVER
        else:
            finished = now - _STATION_IDLE_SINCE[run.station]
        began = finished - recording.duration
        # Queued while the station was still busy or being set up.
        timed.append(_TimedRun(recording, began - _CHANGEOVER, began))
        next_began[run.station] = began
    return timed[::-1]


def _store_run(
    session: Session,
    timed: _TimedRun,
    batteries: dict[str, Battery],
    stations: dict[str, Station],
    profiles: dict[str, Profile],
    limits: ProfileLimits,
) -> None:
    run = timed.run
    battery = batteries[run.battery]
    if run.station is None:
        # Imported from a file: no station, no profile of ours, no steps sent.
        experiment = Experiment(
            name=run.name, description=run.description, battery_id=battery.id, imported=True
        )
        session.add(experiment)
    else:
        experiment = queue_experiment(
            session,
            name=run.name,
            description=run.description,
            battery_id=battery.id,
            station_id=stations[run.station].id,
            profile_id=profiles[run.profile].id,
            max_steps=limits.max_steps,
            max_start_bytes=limits.max_start_bytes,
        )
        experiment.start_sent_at = timed.began_at - dt.timedelta(seconds=2)
        experiment.start_attempts = 1
    recording = timed.recording
    experiment.status = recording.outcome
    experiment.created_at = timed.created_at
    experiment.began_at = timed.began_at
    experiment.finished_at = timed.finished_at
    if recording.outcome == ExperimentStatus.ERROR and recording.alarms:
        experiment.status_message = recording.alarms[-1].message
    session.flush()
    # The rows go in through the ingest path, which also keeps sample_count current.
    _insert_measurements(session.connection(), experiment.id, timed)


def _insert_measurements(connection: Connection, experiment_id: int, timed: _TimedRun) -> None:
    """Store the samples as a cycler channel would have read them: with a little noise."""
    run = timed.run
    station = _demo_station(run.station)
    record = _battery_spec(run.battery).record
    if station is not None:
        voltage_scale = station.spec.window.voltage_max
        current_scale = max(-station.spec.window.current_min, station.spec.window.current_max)
    else:
        voltage_scale = record["voltage_max"]
        current_scale = max(-record["current_min"], record["current_max"])
    # A good cycler channel reads to about 0.005 % of its full scale.
    voltage_noise = 5e-5 * voltage_scale
    current_noise = 5e-5 * current_scale
    temperature_noise = 0.03
    # Seeded by the run's name: every seed gives the same readings.
    rng = random.Random(run.name)
    channels = channel_ids(connection, experiment_id, {TEMPERATURE_CHANNEL: TEMPERATURE_UNIT})
    channel = channels[TEMPERATURE_CHANNEL]
    start = timed.began_at.timestamp()
    samples: list[SampleRow] = []
    extras: list[ExtraValueRow] = []
    for sample in timed.recording.samples:
        voltage = round(sample.voltage + rng.gauss(0.0, voltage_noise), 6)
        current = round(sample.current + rng.gauss(0.0, current_noise), 6)
        samples.append(
            SampleRow(
                sample.seq,
                round(start + sample.t, 3),
                voltage,
                current,
                round(voltage * current, 6),
                sample.instruction,
                sample.cycle,
                sample.mode,
            )
        )
        temperature = sample.extra[TEMPERATURE_CHANNEL] + rng.gauss(0.0, temperature_noise)
        extras.append(ExtraValueRow(channel, sample.seq, round(temperature, 2)))
        if len(samples) == _BATCH:
            insert_samples(connection, experiment_id, samples, extras)
            samples, extras = [], []
    insert_samples(connection, experiment_id, samples, extras)
    # What the node keeps current as samples arrive (the summaries follow every insert).
    rebuild_cycles(connection, experiment_id)
    for alarm in timed.recording.alarms:
        insert_alarm(
            connection,
            experiment_id,
            round(start + alarm.t, 3),
            str(alarm.code),
            alarm.value,
            alarm.message,
        )


def _store_pending(
    session: Session,
    pending: _Pending,
    created_at: dt.datetime,
    now: dt.datetime,
    batteries: dict[str, Battery],
    stations: dict[str, Station],
    profiles: dict[str, Profile],
    limits: ProfileLimits,
) -> None:
    experiment = queue_experiment(
        session,
        name=pending.name,
        description=pending.description,
        battery_id=batteries[pending.battery].id,
        station_id=stations[pending.station].id,
        profile_id=profiles[pending.profile].id,
        max_steps=limits.max_steps,
        max_start_bytes=limits.max_start_bytes,
    )
    experiment.created_at = created_at
    session.flush()
    if pending.cancelled_ago is not None:
        cancelled = cancel_experiment(session, experiment.id)
        cancelled.finished_at = now - pending.cancelled_ago
        session.flush()


def demo_summary(session: Session) -> dict[str, int]:
    """How many batteries, stations, profiles, experiments and samples the database holds."""
    counts = {
        label: session.scalar(select(func.count()).select_from(model)) or 0
        for label, model in (
            ("batteries", Battery),
            ("stations", Station),
            ("profiles", Profile),
            ("experiments", Experiment),
        )
    }
    # SUM comes back as a Decimal from MariaDB.
    counts["samples"] = int(session.scalar(select(func.sum(Experiment.sample_count))) or 0)
    return counts


__all__ = [
    "DEFAULT_LIMITS",
    "DEMO_STATIONS",
    "DEMO_UNIT",
    "DemoStation",
    "database_in_use",
    "demo_summary",
    "seed_demo_data",
]
