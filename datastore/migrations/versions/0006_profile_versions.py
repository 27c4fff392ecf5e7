"""profile versions: an edit of a profile that experiments use is stored as a new version

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every stored profile is a first version: version 1, from nothing.
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("previous_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("origin_id", sa.Integer(), nullable=True))
        # Named, so MariaDB backs the foreign key with it rather than with one of its own.
        batch_op.create_index("ix_profiles_previous_id", ["previous_id"])
        batch_op.create_foreign_key(
            "fk_profile_previous", "profiles", ["previous_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            "fk_profile_origin", "profiles", ["origin_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_unique_constraint("uq_profile_version", ["origin_id", "version"])


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_constraint("uq_profile_version", type_="unique")
        batch_op.drop_constraint("fk_profile_origin", type_="foreignkey")
        batch_op.drop_constraint("fk_profile_previous", type_="foreignkey")
        batch_op.drop_index("ix_profiles_previous_id")
        batch_op.drop_column("origin_id")
        batch_op.drop_column("previous_id")
        batch_op.drop_column("version")
