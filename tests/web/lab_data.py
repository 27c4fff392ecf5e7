"""Experiments with samples, written straight to a test's database for the page tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog
from datastore.cycles import rebuild_cycles
from datastore.ingest import ExtraValueRow, SampleRow, channel_ids, insert_samples
from datastore.models import Battery, Experiment
from domain.status import ExperimentStatus

T0 = 1_800_000_000.0
MAX_STEPS = default_settings().profiles.max_steps


def engine_of(app: Any) -> Engine:
    """The database engine of an app built by the `app_factory` fixture."""
    return app.server.extensions["bem"].store.engine


def add_two_cells(session: Session) -> tuple[Battery, Battery]:
    """A 1 Ah lithium-ion cell of ±1 A and a 5 Ah one of ±5 A, both 2.5 to 4.2 V."""
    small = catalog.create_battery(
        session, name="small cell", technology="lithium-ion", voltage_min=2.5,
        voltage_max=4.2, current_min=-1, current_max=1, nominal_capacity_ah=1.0,
    )  # fmt: skip
    big = catalog.create_battery(
        session, name="big cell", technology="lithium-ion", voltage_min=2.5,
        voltage_max=4.2, current_min=-5, current_max=5, nominal_capacity_ah=5.0,
    )  # fmt: skip
    return small, big


def voltage_of(seq: int) -> float:
    return round(3.5 + 0.5 * ((seq % 2000) / 2000), 6)


def add_experiment(
    engine: Engine,
    name: str = "cycling run",
    *,
    samples: int = 0,
    status: ExperimentStatus = ExperimentStatus.FINISHED,
    battery: str = "NMC cell 1",
    technology: str = "lithium-ion",
    description: str = "",
    message: str = "",
    created: dt.datetime | None = None,
    voltage: Callable[[int], float] = voltage_of,
    period_s: float = 1.0,
) -> int:
    """An experiment with `samples` samples (one a second, a temperature channel), its
    summaries and cycles; its status forced to `status`."""
    with Session(engine) as session, session.begin():
        # Battery names are unique, and a battery runs one experiment at a time: each
        # experiment gets its own battery, a repeated name numbered ("NMC cell (2)").
        taken = session.scalar(
            select(func.count()).select_from(Battery).where(Battery.name.startswith(battery))
        )
        battery_row = catalog.create_battery(
            session, name=f"{battery} ({taken + 1})" if taken else battery,
            technology=technology, voltage_min=2.5, voltage_max=4.2,
            current_min=-5, current_max=5, nominal_capacity_ah=2.0,
            serial_number=f"{name}-{battery}" + (f"-{taken + 1}" if taken else ""),
            details={"chemistry": "NMC"} if technology == "lithium-ion" else {},
        )  # fmt: skip
        station = catalog.create_station(
            session, name=f"ch for {name}", voltage_min=0, voltage_max=5, current_min=-10,
            current_max=10,
        )  # fmt: skip
        profile = catalog.create_profile(
            session,
            name=f"profile for {name}",
            source="REPEAT 3\n  CC, 1, TIME, 3600\n  CC, -1, TIME, 3600\nEND\n",
            max_steps=MAX_STEPS,
        )
        experiment = catalog.queue_experiment(
            session, name=name, description=description, battery_id=battery_row.id,
            station_id=station.id, profile_id=profile.id, max_steps=MAX_STEPS,
        )  # fmt: skip
        session.flush()
        experiment_id = experiment.id
        session.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id)
            .values(
                status=status,
                status_message=message,
                created_at=created or dt.datetime.fromtimestamp(T0 - 60, dt.UTC),
                began_at=dt.datetime.fromtimestamp(T0, dt.UTC) if samples else None,
                finished_at=dt.datetime.fromtimestamp(T0 + samples * period_s, dt.UTC)
                if status.is_closed
                else None,
            )
        )
    if samples:
        add_samples(engine, experiment_id, range(samples), voltage=voltage, period_s=period_s)
    return experiment_id


def add_samples(
    engine: Engine,
    experiment_id: int,
    seqs: range,
    *,
    voltage: Callable[[int], float] = voltage_of,
    period_s: float = 1.0,
) -> None:
    with engine.begin() as connection:
        channel = channel_ids(connection, experiment_id, {"temp_body": "°C"})["temp_body"]
        for start in range(seqs.start, seqs.stop, 50_000):
            chunk = range(start, min(start + 50_000, seqs.stop))
            rows = [
                SampleRow(
                    seq, T0 + seq * period_s, voltage(seq), 1.0 if (seq // 3600) % 2 == 0 else -1.0,
                    voltage(seq), (seq // 3600) % 6 + 1, (seq // 7200) + 1, "CC",
                )
                for seq in chunk
            ]  # fmt: skip
            extras = [ExtraValueRow(channel, seq, 25.0 + (seq % 100) / 100) for seq in chunk]
            insert_samples(connection, experiment_id, rows, extras)
        rebuild_cycles(connection, experiment_id)


def add_fading_cycles(
    engine: Engine,
    experiment_id: int,
    cycles: int,
    *,
    fade: float = 0.05,
    period_s: float = 10.0,
    stored: int = 0,
) -> None:
    """`cycles` numbered cycles, one sample every `period_s`: a 1 A charge for an hour with
    the voltage rising linearly from 3.5 to 4.1 V (0.6 V/Ah), then a 1 A discharge from
    4.0 V falling 0.6 V/Ah that lasts `fade` of an hour less each cycle. The first
    `stored` cycles are left out (added by an earlier call)."""
    rows: list[SampleRow] = []
    ts = T0
    for cycle in range(1, cycles + 1):
        steps = round(3600 / period_s)
        for k in range(steps):
            voltage = 3.5 + 0.6 * k / steps
            rows.append(SampleRow(len(rows), ts, voltage, 1.0, voltage, 1, cycle, "CC"))
            ts += period_s
        for k in range(round(steps * (1 - fade * (cycle - 1)))):
            voltage = 4.0 - 0.6 * k / steps
            rows.append(SampleRow(len(rows), ts, voltage, -1.0, -voltage, 2, cycle, "CC"))
            ts += period_s
    with engine.begin() as connection:
        insert_samples(connection, experiment_id, [r for r in rows if r.cycle > stored], [])
        rebuild_cycles(connection, experiment_id)
