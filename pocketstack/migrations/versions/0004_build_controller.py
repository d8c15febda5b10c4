"""build owner: which controller runs a build, and the controllers' heartbeats

A restarting controller recovers only the builds it owned or those of a controller whose
heartbeat is gone (before this revision it failed every build in a controller step, another
live controller's included). Builds an older version left have no owner and are recovered by
the first controller to start, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "controllers",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_up", sa.DateTime(), nullable=True),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("controller_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_instances_controller_id"), ["controller_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_controller_id"))
        batch_op.drop_column("controller_id")
    op.drop_table("controllers")
