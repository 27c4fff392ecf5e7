"""What the datastore tests share: a queued experiment to hang samples on, and the block
summaries an experiment should have, computed in Python from its samples."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog
from datastore.models import ChannelSummary, ExtraValue, Measurement, SampleSummary
from datastore.summaries import QUANTITIES, SUMMARY_BLOCK_SIZES


def add_experiment(session: Session, name: str = "run") -> int:
    """A battery, a station, a profile and a queued experiment on them; the experiment's id."""
    battery = catalog.create_battery(
        session, name=f"cell for {name}", technology="lithium-ion", voltage_min=2.5,
        voltage_max=4.2, current_min=-5, current_max=5, nominal_capacity_ah=2.0,
    )  # fmt: skip
    station = catalog.create_station(
        session, name=f"ch for {name}", voltage_min=0, voltage_max=5, current_min=-10,
        current_max=10,
    )  # fmt: skip
    profile = catalog.create_profile(
        session,
        name=f"profile for {name}",
        source="CC, 1, TIME, 3600\n",
        max_steps=default_settings().profiles.max_steps,
    )
    experiment = catalog.queue_experiment(
        session,
        name=name,
        battery_id=battery.id,
        station_id=station.id,
        profile_id=profile.id,
        max_steps=default_settings().profiles.max_steps,
    )
    session.commit()
    return experiment.id


def expected_blocks(engine: Engine, experiment_id: int, level: int) -> dict[int, tuple]:
    """(seq_first, seq_last, ts_first, ts_last, then per quantity min, max, first, last) of
    each block, computed in Python from the samples."""
    size = SUMMARY_BLOCK_SIZES[level - 1]
    with Session(engine) as session:
        rows = session.execute(
            select(Measurement.seq, Measurement.ts, Measurement.voltage, Measurement.current,
                   Measurement.power)
            .where(Measurement.experiment_id == experiment_id)
            .order_by(Measurement.seq)
        ).all()  # fmt: skip
    blocks: dict[int, list] = {}
    for row in rows:
        blocks.setdefault(row.seq // size, []).append(row)
    expected = {}
    for number, members in blocks.items():
        values: list = [members[0].seq, members[-1].seq, members[0].ts, members[-1].ts]
        for quantity in QUANTITIES:
            column = [getattr(m, quantity) for m in members]
            values += [min(column), max(column), column[0], column[-1]]
        expected[number] = tuple(values)
    return expected


def stored_blocks(engine: Engine, experiment_id: int, level: int) -> dict[int, tuple]:
    columns = [c for c in SampleSummary.__table__.columns if c.name not in ("experiment_id", "level", "block")]  # fmt: skip
    with Session(engine) as session:
        rows = session.execute(
            select(SampleSummary.block, *columns).where(
                SampleSummary.experiment_id == experiment_id, SampleSummary.level == level
            )
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def expected_channel_blocks(engine: Engine, channel_id: int, level: int) -> dict[int, tuple]:
    """(seq_first, seq_last, min, max, first, last) of each block of a channel's values."""
    size = SUMMARY_BLOCK_SIZES[level - 1]
    with Session(engine) as session:
        rows = session.execute(
            select(ExtraValue.seq, ExtraValue.value)
            .where(ExtraValue.channel_id == channel_id)
            .order_by(ExtraValue.seq)
        ).all()
    blocks: dict[int, list] = {}
    for seq, value in rows:
        blocks.setdefault(seq // size, []).append((seq, value))
    return {
        number: (
            members[0][0],
            members[-1][0],
            min(v for _s, v in members),
            max(v for _s, v in members),
            members[0][1],
            members[-1][1],
        )
        for number, members in blocks.items()
    }


def stored_channel_blocks(engine: Engine, channel_id: int, level: int) -> dict[int, tuple]:
    c = ChannelSummary
    with Session(engine) as session:
        rows = session.execute(
            select(c.block, c.seq_first, c.seq_last, c.value_min, c.value_max, c.value_first,
                   c.value_last)
            .where(c.channel_id == channel_id, c.level == level)
        ).all()  # fmt: skip
    return {row[0]: tuple(row[1:]) for row in rows}


def assert_summaries_match_samples(engine: Engine, experiment_id: int) -> None:
    """Every level of the stored summaries equals the blocks computed from the samples."""
    for level in range(1, len(SUMMARY_BLOCK_SIZES) + 1):
        assert stored_blocks(engine, experiment_id, level) == expected_blocks(
            engine, experiment_id, level
        ), f"level {level}"
