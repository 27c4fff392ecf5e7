"""cycle table and its progress

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cycles",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        *[
            sa.Column(name, sa.Double(), nullable=False)
            for name in (
                "start_ts",
                "end_ts",
                "duration_s",
                "start_voltage",
                "end_voltage",
                "charge_ah",
                "discharge_ah",
                "charge_wh",
                "discharge_wh",
            )
        ],
        *[
            sa.Column(name, sa.Double(), nullable=True)
            for name in (
                "coulombic_efficiency",
                "energy_efficiency",
                "mean_charge_voltage",
                "mean_discharge_voltage",
            )
        ],
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id", "cycle"),
    )
    op.create_table(
        "cycle_progress",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("numbered", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_ts", sa.Double(), nullable=False),
        sa.Column("last_voltage", sa.Double(), nullable=False),
        sa.Column("last_current", sa.Double(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("discharged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id"),
    )
    # Cycle tables of experiments stored before this revision are computed by
    # datastore.migrate.upgrade once the schema is current.


def downgrade() -> None:
    op.drop_table("cycle_progress")
    op.drop_table("cycles")
