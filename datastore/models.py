"""The schema: typed SQLAlchemy models for every entity of the domain.

Units are SI throughout (V, A, W, s, Ah, Wh, °C). Sample times are Unix seconds
(UTC) in a double, which keeps sub-millisecond precision; bookkeeping dates are
UTC datetimes with microseconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from datastore.types import Json, LongText, UtcDateTime, utcnow
from domain.accounts import Role
from domain.import_jobs import JobState
from domain.status import ExperimentStatus


class Base(DeclarativeBase):
    pass


class Battery(Base):
    __tablename__ = "batteries"
    __table_args__ = (
        UniqueConstraint(
            "name", "manufacturer", "model", "serial_number", name="uq_battery_identity"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    manufacturer: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    serial_number: Mapped[str] = mapped_column(String(100), default="")
    fabrication_date: Mapped[dt.date | None]
    technology: Mapped[str] = mapped_column(String(32), index=True)
    cells_in_series: Mapped[int] = mapped_column(Integer, default=1)
    voltage_min: Mapped[float] = mapped_column(Double)
    voltage_max: Mapped[float] = mapped_column(Double)
    current_min: Mapped[float] = mapped_column(Double)
    current_max: Mapped[float] = mapped_column(Double)
    cell_voltage_min: Mapped[float | None] = mapped_column(Double)
    cell_voltage_max: Mapped[float | None] = mapped_column(Double)
    nominal_capacity_ah: Mapped[float | None] = mapped_column(Double)
    # Technology-specific fields (domain.batteries.TECHNOLOGIES), e.g. {"chemistry": "NMC"}.
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    experiments: Mapped[list[Experiment]] = relationship(back_populates="battery")


class ComputationalUnit(Base):
    __tablename__ = "computational_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    last_heartbeat: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    stations: Mapped[list[Station]] = relationship(back_populates="computational_unit")


class Station(Base):
    """A cycler channel: runs one experiment at a time within its voltage/current window."""

    __tablename__ = "stations"
    __table_args__ = (Index("ix_station_unit_name", "computational_unit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    location: Mapped[str] = mapped_column(String(200), default="")
    computational_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("computational_units.id", ondelete="SET NULL")
    )
    # The devices behind the channel, e.g. [{"kind": "source", "model": "EA-PS 2042"}].
    devices: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # The window the station can apply: the intersection of its devices' ranges.
    voltage_min: Mapped[float] = mapped_column(Double)
    voltage_max: Mapped[float] = mapped_column(Double)
    current_min: Mapped[float] = mapped_column(Double)
    current_max: Mapped[float] = mapped_column(Double)
    # Last heartbeat and the state it reported ("idle", "running", "paused", "error").
    last_heartbeat: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    reported_state: Mapped[str | None] = mapped_column(String(16))
    reported_experiment_id: Mapped[int | None]
    # An edited station is deprecated and replaced, so its history keeps the old window.
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    computational_unit: Mapped[ComputationalUnit | None] = relationship(back_populates="stations")
    experiments: Mapped[list[Experiment]] = relationship(back_populates="station")


class Profile(Base):
    """A cycling profile: its source text, the parsed structure and its stored envelope."""

    __tablename__ = "profiles"
    # One row per version: at most one version n of each profile.
    __table_args__ = (UniqueConstraint("origin_id", "version", name="uq_profile_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(LongText)
    # The parsed profile as JSON (domain.profiles), C-rates left unresolved.
    instructions: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    step_count: Mapped[int] = mapped_column(Integer, default=0)
    # Envelope: what the profile can demand. Absolute parts in V and A; C-rate current
    # set points in C (resolved against a battery's capacity when compared); CP power in W
    # (turned into current through the battery's voltage window when compared).
    voltage_min: Mapped[float | None] = mapped_column(Double)
    voltage_max: Mapped[float | None] = mapped_column(Double)
    current_min: Mapped[float | None] = mapped_column(Double)
    current_max: Mapped[float | None] = mapped_column(Double)
    c_rate_min: Mapped[float | None] = mapped_column(Double)
    c_rate_max: Mapped[float | None] = mapped_column(Double)
    power_min: Mapped[float | None] = mapped_column(Double)
    power_max: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Versions (datastore.catalog.save_profile_edit): a profile that experiments use never
    # changes; an edit of it is a new row, version n + 1, linked to the one it came from
    # (`previous_id`) and to the first version (`origin_id`, None on a first version).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL", name="fk_profile_previous"), index=True
    )
    origin_id: Mapped[int | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL", name="fk_profile_origin")
    )


class Experiment(Base):
    __tablename__ = "experiments"
    __table_args__ = (
        Index("ix_experiment_station_status", "station_id", "status", "created_at"),
        Index("ix_experiment_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    battery_id: Mapped[int] = mapped_column(ForeignKey("batteries.id", ondelete="RESTRICT"))
    # Imported experiments have no station and may have no profile.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="RESTRICT"))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"))
    status: Mapped[ExperimentStatus] = mapped_column(
        Enum(ExperimentStatus, native_enum=False, length=16, validate_strings=True),
        default=ExperimentStatus.QUEUED,
    )
    status_message: Mapped[str] = mapped_column(Text, default="")
    # The expanded steps sent to the cycler (REPEAT unrolled, C-rates resolved at creation).
    steps: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # Run conditions of technologies that record them (domain.experiment_details), e.g. a
    # redox-flow stack's electrolyte volume; None when there are none.
    details: Mapped[dict[str, Any] | None] = mapped_column(Json)
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    began_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Kept current by ingest so tables and the monitor need no COUNT(*) over samples.
    sample_count: Mapped[int] = mapped_column(Integer, default=0)
    last_sample_at: Mapped[float | None] = mapped_column(Double)
    # Dispatch bookkeeping: when the start command was last sent and how often.
    start_sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    start_attempts: Mapped[int] = mapped_column(Integer, default=0)

    battery: Mapped[Battery] = relationship(back_populates="experiments")
    station: Mapped[Station | None] = relationship(back_populates="experiments")
    profile: Mapped[Profile | None] = relationship()
    channels: Mapped[list[Channel]] = relationship(
        back_populates="experiment", cascade="all, delete-orphan", passive_deletes=True
    )


# The table; the node and demo data write it in bulk as ingest.SampleRow tuples, not ORM objects.
class Measurement(Base):
    """One sample. (experiment_id, seq) is the key, so a redelivered sample is a no-op."""

    __tablename__ = "measurements"
    __table_args__ = (Index("ix_measurement_experiment_ts", "experiment_id", "ts"),)

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Double)  # Unix seconds, UTC
    voltage: Mapped[float] = mapped_column(Double)
    current: Mapped[float] = mapped_column(Double)
    power: Mapped[float] = mapped_column(Double)
    instruction: Mapped[int | None] = mapped_column(Integer)  # 1-based in the expanded steps
    cycle: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(8))


class SampleSummary(Base):
    """Extremes of a block of consecutive samples, for drawing long experiments quickly.

    Level L holds blocks of `SUMMARY_BLOCK_SIZES[L - 1]` samples (block b covers seq
    b*size .. (b+1)*size - 1). Ingest and import keep them current (datastore/summaries.py);
    the experiment page and the monitor read them instead of millions of samples.
    Per quantity: the minimum, the maximum, and the first and last values of the block.
    """

    __tablename__ = "sample_summaries"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq_first: Mapped[int] = mapped_column(Integer)
    seq_last: Mapped[int] = mapped_column(Integer)
    ts_first: Mapped[float] = mapped_column(Double)
    ts_last: Mapped[float] = mapped_column(Double)
    voltage_min: Mapped[float] = mapped_column(Double)
    voltage_max: Mapped[float] = mapped_column(Double)
    voltage_first: Mapped[float] = mapped_column(Double)
    voltage_last: Mapped[float] = mapped_column(Double)
    current_min: Mapped[float] = mapped_column(Double)
    current_max: Mapped[float] = mapped_column(Double)
    current_first: Mapped[float] = mapped_column(Double)
    current_last: Mapped[float] = mapped_column(Double)
    power_min: Mapped[float] = mapped_column(Double)
    power_max: Mapped[float] = mapped_column(Double)
    power_first: Mapped[float] = mapped_column(Double)
    power_last: Mapped[float] = mapped_column(Double)


class ChannelSummary(Base):
    """Extremes of an extra channel over the same blocks as `SampleSummary`."""

    __tablename__ = "channel_summaries"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq_first: Mapped[int] = mapped_column(Integer)
    seq_last: Mapped[int] = mapped_column(Integer)
    value_min: Mapped[float] = mapped_column(Double)
    value_max: Mapped[float] = mapped_column(Double)
    value_first: Mapped[float] = mapped_column(Double)
    value_last: Mapped[float] = mapped_column(Double)


class Cycle(Base):
    """One cycle of an experiment, kept current by ingest and import (datastore/cycles.py).

    Capacities in Ah and energies in Wh, both positive; efficiencies as fractions; the
    mean voltages are energy over capacity. None where the cycle has no charge (or no
    discharge) to divide by.
    """

    __tablename__ = "cycles"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer)
    start_ts: Mapped[float] = mapped_column(Double)
    end_ts: Mapped[float] = mapped_column(Double)
    duration_s: Mapped[float] = mapped_column(Double)
    start_voltage: Mapped[float] = mapped_column(Double)
    end_voltage: Mapped[float] = mapped_column(Double)
    charge_ah: Mapped[float] = mapped_column(Double)
    discharge_ah: Mapped[float] = mapped_column(Double)
    charge_wh: Mapped[float] = mapped_column(Double)
    discharge_wh: Mapped[float] = mapped_column(Double)
    coulombic_efficiency: Mapped[float | None] = mapped_column(Double)
    energy_efficiency: Mapped[float | None] = mapped_column(Double)
    mean_charge_voltage: Mapped[float | None] = mapped_column(Double)
    mean_discharge_voltage: Mapped[float | None] = mapped_column(Double)


class CycleProgress(Base):
    """How far the cycle table of an experiment has integrated its samples."""

    __tablename__ = "cycle_progress"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    # Whether cycles come from the samples' cycle numbers (else they are detected).
    numbered: Mapped[bool] = mapped_column(Boolean)
    # Whether integration stopped at a hole in the seq numbers with samples stored after it.
    blocked: Mapped[bool] = mapped_column(Boolean)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_ts: Mapped[float] = mapped_column(Double)
    last_voltage: Mapped[float] = mapped_column(Double)
    last_current: Mapped[float] = mapped_column(Double)
    cycle: Mapped[int] = mapped_column(Integer)
    discharged: Mapped[bool] = mapped_column(Boolean)


class Channel(Base):
    """A named extra channel of an experiment (a temperature, a cell voltage...) and its unit."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("experiment_id", "name", name="uq_channel_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20), default="")

    experiment: Mapped[Experiment] = relationship(back_populates="channels")


class ExtraValue(Base):
    """One value of an extra channel at one sample."""

    __tablename__ = "extra_values"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[float] = mapped_column(Double)


class Alarm(Base):
    """An alarm a cycler raised. (experiment, ts, code) is unique, so redelivery is a no-op."""

    __tablename__ = "alarms"
    __table_args__ = (
        UniqueConstraint("experiment_id", "ts", "code", name="uq_alarm_experiment_ts_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    ts: Mapped[float] = mapped_column(Double)
    code: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Double)
    message: Mapped[str] = mapped_column(Text, default="")


class StationCommand(Base):
    """An operator's stop/pause/resume request, written by the web app, sent by the node."""

    __tablename__ = "station_commands"
    __table_args__ = (Index("ix_station_command_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class RejectedMessage(Base):
    """A message the node refused (malformed, unknown station, closed experiment...)."""

    __tablename__ = "rejected_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(LongText)


class ImportJob(Base):
    """A file being imported in the background (domain/import_jobs.py): the import page
    follows it here, whichever web worker runs it."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The upload's token: the folder under the upload directory holding the file.
    token: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    state: Mapped[JobState] = mapped_column(
        Enum(
            JobState,
            native_enum=False,
            length=16,
            validate_strings=True,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=JobState.QUEUED,
    )
    stage: Mapped[str] = mapped_column(String(64), default="")
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    # Why it failed (one problem a line), empty otherwise.
    message: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Touched by every progress write and heartbeat: how the page tells a dead job.
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    """Someone who signs in to the web app (domain/accounts.py): never deleted, disabled."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # argon2id, in its own encoded form ("$argon2id$v=19$m=...").
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            length=16,
            validate_strings=True,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=Role.VIEWER,
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class SignInFailure(Base):
    """One refused sign-in, kept while it can count towards a lock (domain/sign_in_limits.py).

    The name is as typed, whether or not such a user exists; the address is the client's.
    In the database, not in a web worker's memory, so every worker counts the same."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_sign_in_failure_name_at", "name", "at"),
        Index("ix_sign_in_failure_address_at", "address", "at"),
        Index("ix_sign_in_failure_at", "at"),
    )
