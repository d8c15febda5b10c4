"""image: tasks (Glance's ``tasks`` and ``task_info`` as one table, ``image_tasks``)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 09:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_image_tasks_owner", "image_tasks", ["owner"])
    op.create_index("ix_image_tasks_image_id", "image_tasks", ["image_id"])


def downgrade() -> None:
    op.drop_index("ix_image_tasks_image_id", "image_tasks")
    op.drop_index("ix_image_tasks_owner", "image_tasks")
    op.drop_table("image_tasks")
