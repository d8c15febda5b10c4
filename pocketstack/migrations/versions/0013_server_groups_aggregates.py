"""compute: server groups and their members, host aggregates and their hosts

Nova's ``instance_groups`` (one policy and its rules, microversion 2.64's shape) with
``instance_group_members`` (a server in at most one group), and ``aggregates`` (metadata
as JSON, the availability zone among it) with ``aggregate_hosts``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 23:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_groups",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("instance_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instance_groups_project_id"), ["project_id"], unique=False
        )
    op.create_table(
        "instance_group_members",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("group_uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["group_uuid"], ["instance_groups.uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_uuid"),
    )
    with op.batch_alter_table("instance_group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instance_group_members_group_uuid"), ["group_uuid"], unique=False
        )
    op.create_table(
        "aggregates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "aggregate_hosts",
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["aggregate_id"], ["aggregates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("aggregate_id", "host"),
    )


def downgrade() -> None:
    op.drop_table("aggregate_hosts")
    op.drop_table("aggregates")
    op.drop_table("instance_group_members")
    op.drop_table("instance_groups")
