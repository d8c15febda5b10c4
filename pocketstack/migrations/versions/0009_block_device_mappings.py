"""compute: block device mappings (a server's volumes)

docs/block-storage.md "Nova's side": Nova's ``block_device_mapping`` table, one row per
volume (or local disk) of a server, with the volume API's attachment id and
``connection_info``; soft-deleted when the volume is detached or the server deleted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "block_device_mappings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("destination_type", sa.String(length=32), nullable=False),
        sa.Column("boot_index", sa.Integer(), nullable=True),
        sa.Column("device_name", sa.String(length=255), nullable=True),
        sa.Column("volume_id", sa.String(length=36), nullable=True),
        sa.Column("attachment_id", sa.String(length=36), nullable=True),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("volume_size", sa.Integer(), nullable=True),
        sa.Column("guest_format", sa.String(length=255), nullable=True),
        sa.Column("disk_bus", sa.String(length=32), nullable=False),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("block_device_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_block_device_mappings_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_block_device_mappings_volume_id"), ["volume_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_block_device_mappings_deleted"), ["deleted"], unique=False
        )


def downgrade() -> None:
    op.drop_table("block_device_mappings")
