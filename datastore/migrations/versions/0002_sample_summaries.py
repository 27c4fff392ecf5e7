"""sample and channel summaries: per-block extremes for long experiments

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUANTITIES = ("voltage", "current", "power")
_STATISTICS = ("min", "max", "first", "last")


def upgrade() -> None:
    op.create_table(
        "sample_summaries",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq_first", sa.Integer(), nullable=False),
        sa.Column("seq_last", sa.Integer(), nullable=False),
        sa.Column("ts_first", sa.Double(), nullable=False),
        sa.Column("ts_last", sa.Double(), nullable=False),
        *[
            sa.Column(f"{quantity}_{statistic}", sa.Double(), nullable=False)
            for quantity in _QUANTITIES
            for statistic in _STATISTICS
        ],
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id", "level", "block"),
    )
    op.create_table(
        "channel_summaries",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq_first", sa.Integer(), nullable=False),
        sa.Column("seq_last", sa.Integer(), nullable=False),
        *[
            sa.Column(f"value_{statistic}", sa.Double(), nullable=False)
            for statistic in _STATISTICS
        ],
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "level", "block"),
    )
    # Summaries of experiments stored before this revision are computed by
    # datastore.migrate.upgrade once the schema is current.


def downgrade() -> None:
    op.drop_table("channel_summaries")
    op.drop_table("sample_summaries")
