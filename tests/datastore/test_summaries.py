"""Block summaries agree with the samples, and views drawn from them keep every extreme."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from datastore.bulk import insert_rows
from datastore.models import (
    Channel,
    ChannelSummary,
    Experiment,
    ExtraValue,
    Measurement,
    SampleSummary,
)
from datastore.series import read_series
from datastore.summaries import (
    QUANTITIES,
    SUMMARY_BLOCK_SIZES,
    SummaryWriter,
    rebuild_summaries,
    summarise_unsummarised,
)
from tests.datastore.support import add_experiment

T0 = 1_800_000_000.0


def write_samples(
    connection: Connection, experiment_id: int, seqs, voltage=None, *, summarise: bool = True
) -> None:
    """Store samples as the node does: rows, then their summaries, in one transaction."""
    rows = [
        (
            experiment_id,
            seq,
            T0 + seq * 0.5,
            voltage(seq) if voltage else 3.0 + 0.5 * np.sin(seq / 50),
            1.0 if (seq // 300) % 2 else -1.0,
            (3.0 + seq % 7) * 1.0,
        )
        for seq in seqs
    ]
    insert_rows(
        connection,
        "measurements",
        ["experiment_id", "seq", "ts", "voltage", "current", "power"],
        rows,
        ignore_existing=True,
    )
    if summarise:
        writer = SummaryWriter()
        writer.add_samples(experiment_id, *zip(*[row[1:] for row in rows], strict=True))
        writer.write(connection)


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


@pytest.fixture
def experiment_id(session: Session) -> int:
    return add_experiment(session)


def test_summaries_equal_the_samples_after_writes_in_any_order_and_repeated(
    engine: Engine, experiment_id: int
) -> None:
    seqs = list(range(40_000))
    chunks = [seqs[i : i + 1_500] for i in range(0, len(seqs), 1_500)]
    random.Random(7).shuffle(chunks)
    chunks.append(chunks[3])  # a redelivered batch
    with engine.begin() as connection:
        for chunk in chunks:
            write_samples(connection, experiment_id, chunk)

    for level in range(1, len(SUMMARY_BLOCK_SIZES) + 1):
        assert stored_blocks(engine, experiment_id, level) == expected_blocks(
            engine, experiment_id, level
        ), f"level {level}"


def test_a_rebuild_gives_the_same_summaries_as_the_incremental_writes(
    engine: Engine, experiment_id: int
) -> None:
    with engine.begin() as connection:
        for start in range(0, 20_000, 3_000):
            chunk = range(start, min(start + 3_000, 20_000))
            write_samples(connection, experiment_id, chunk)
    levels = range(1, len(SUMMARY_BLOCK_SIZES) + 1)
    incremental = [stored_blocks(engine, experiment_id, level) for level in levels]
    with engine.begin() as connection:
        rebuild_summaries(connection, experiment_id)
    assert [stored_blocks(engine, experiment_id, level) for level in levels] == incremental


def test_extra_channels_are_summarised_over_the_same_blocks(
    engine: Engine, session: Session, experiment_id: int
) -> None:
    channel_id = catalog_channel(session, experiment_id)
    with engine.begin() as connection:
        write_samples(connection, experiment_id, range(5_000))
        # A sparse channel: a value on every third sample, written in two parts.
        values = [(channel_id, seq, 20.0 + (seq % 97) / 10) for seq in range(0, 5_000, 3)]
        insert_rows(connection, "extra_values", ["channel_id", "seq", "value"], values)
        for part in (values[1000:], values[:1000]):
            writer = SummaryWriter()
            writer.add_channel(channel_id, [v[1] for v in part], [v[2] for v in part])
            writer.write(connection)
    for level in range(1, len(SUMMARY_BLOCK_SIZES) + 1):
        assert stored_channel_blocks(engine, channel_id, level) == expected_channel_blocks(
            engine, channel_id, level
        ), f"level {level}"


def catalog_channel(session: Session, experiment_id: int) -> int:
    from datastore.ingest import channel_ids

    ids = channel_ids(session.connection(), experiment_id, {"temp_body": "°C"})
    session.commit()
    return ids["temp_body"]


def test_experiments_written_before_summaries_existed_get_them_on_upgrade(
    engine: Engine, experiment_id: int
) -> None:
    with engine.begin() as connection:
        write_samples(connection, experiment_id, range(3_000), summarise=False)
        connection.execute(
            Experiment.__table__.update()
            .where(Experiment.id == experiment_id)
            .values(sample_count=3_000)
        )
    with engine.begin() as connection:
        assert summarise_unsummarised(connection) == [experiment_id]
        assert summarise_unsummarised(connection) == []
    assert stored_blocks(engine, experiment_id, 1) == expected_blocks(engine, experiment_id, 1)


# ---------------------------------------------------------------- reading views


def test_a_short_range_gives_the_samples_themselves(engine: Engine, experiment_id: int) -> None:
    with engine.begin() as connection:
        write_samples(connection, experiment_id, range(1_000))
    series = read_series(engine, experiment_id, T0 + 100 * 0.5, T0 + 199 * 0.5)
    assert series.raw and series.samples == 100
    assert series.ts[0] == T0 + 50 and series.ts[-1] == T0 + 99.5


@pytest.fixture
def spiky(sqlite_engine: Engine) -> tuple[Engine, int, int]:
    """300,000 samples on SQLite with one sample 100 V above the rest."""
    spike = 123_457
    with Session(sqlite_engine) as session:
        experiment_id = add_experiment(session)
    with sqlite_engine.begin() as connection:
        for start in range(0, 300_000, 20_000):
            chunk = range(start, start + 20_000)
            write_samples(
                connection,
                experiment_id,
                chunk,
                voltage=lambda seq: 103.0 if seq == spike else 3.0 + (seq % 1000) / 1000,
            )
    return sqlite_engine, experiment_id, spike


def test_the_whole_experiment_is_at_most_5000_points(spiky) -> None:
    engine, experiment_id, _spike = spiky
    series = read_series(engine, experiment_id)
    assert not series.raw and series.samples == 300_000
    assert 2_000 <= len(series.ts) <= 5_000
    assert np.all(np.diff(series.ts) >= 0)


@pytest.mark.parametrize("width_s", [150_000.0, 40_000.0, 9_000.0, 1_500.0, 400.0, 20.0])
def test_a_one_sample_spike_is_drawn_at_every_zoom(spiky, width_s: float) -> None:
    engine, experiment_id, spike = spiky
    spike_ts = T0 + spike * 0.5
    for offset in (0.5, 0.01, 0.99):  # spike in the middle, near the start, near the end
        start = spike_ts - width_s * offset
        series = read_series(engine, experiment_id, start, start + width_s)
        assert np.nanmax(series.values["voltage"]) == 103.0, (width_s, offset, series.source)
        assert len(series.ts) <= 5_000


def test_a_spike_just_outside_the_range_is_not_drawn(spiky) -> None:
    engine, experiment_id, spike = spiky
    spike_ts = T0 + spike * 0.5
    for width_s in (150_000.0, 40_000.0, 1_500.0):
        before = read_series(engine, experiment_id, spike_ts - width_s, spike_ts - 0.5)
        after = read_series(engine, experiment_id, spike_ts + 0.5, spike_ts + width_s)
        assert np.nanmax(before.values["voltage"]) < 5
        assert np.nanmax(after.values["voltage"]) < 5


def test_zooming_in_gives_finer_buckets_down_to_the_samples(spiky) -> None:
    engine, experiment_id, spike = spiky
    spike_ts = T0 + spike * 0.5
    buckets = []
    for width_s in (150_000.0, 40_000.0, 9_000.0, 1_500.0):
        series = read_series(engine, experiment_id, spike_ts - width_s / 2, spike_ts + width_s / 2)
        buckets.append(series.bucket)
    assert buckets == sorted(buckets, reverse=True) and buckets[-1] == 1
    assert len(set(buckets)) == len(buckets)


def test_an_import_stores_summaries_equal_to_its_samples(engine: Engine) -> None:
    from datastore.imports import import_experiment
    from domain.csvformat import parse_csv

    with Session(engine) as session:
        battery_id = session.scalar(
            select(Experiment.battery_id).where(Experiment.id == add_experiment(session))
        )
    lines = ["Unix Time / s,Voltage / V,Current / A,Temperature / °C"]
    for seq in range(9_000):
        temperature = "" if seq % 5 else f"{25 + (seq % 131) / 10}"
        lines.append(
            f"{T0 + seq},{3 + ((seq * 37) % 101) / 100},{(-1) ** (seq // 700)},{temperature}"
        )
    parsed = parse_csv("\n".join(lines).encode())
    experiment_id = import_experiment(engine, parsed, name="imported", battery_id=battery_id)

    for level in range(1, len(SUMMARY_BLOCK_SIZES) + 1):
        assert stored_blocks(engine, experiment_id, level) == expected_blocks(
            engine, experiment_id, level
        ), f"level {level}"
    with Session(engine) as check:
        channel_id = check.scalar(select(Channel.id).where(Channel.experiment_id == experiment_id))
    for level in range(1, len(SUMMARY_BLOCK_SIZES) + 1):
        assert stored_channel_blocks(engine, channel_id, level) == expected_channel_blocks(
            engine, channel_id, level
        ), f"channel, level {level}"
