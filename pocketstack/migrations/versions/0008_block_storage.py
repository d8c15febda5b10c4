"""block storage: volumes, types, snapshots, attachments, backups, quotas, services

docs/block-storage.md, "Data model": Cinder's tables (``volumes``, ``volume_types``,
``snapshots``, ``volume_attachments``, ``backups``, ``volume_quotas``, ``volume_services``)
for the Block Storage service (issue 8). ``backups`` is here too, so the backups family
needs no migration of its own. Volumes, snapshots and backups are soft-deleted as Cinder's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 18:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("fail_reason", sa.Text(), nullable=True),
        sa.Column("is_incremental", sa.Boolean(), nullable=False),
        sa.Column("has_dependent_backups", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("container", sa.String(length=255), nullable=True),
        sa.Column("service_metadata", sa.JSON(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("data_timestamp", sa.DateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backups_deleted"), ["deleted"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_volume_id"), ["volume_id"], unique=False)

    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress", sa.String(length=16), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snapshots_deleted"), ["deleted"], unique=False)
        batch_op.create_index(batch_op.f("ix_snapshots_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_snapshots_volume_id"), ["volume_id"], unique=False)

    op.create_table(
        "volume_attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("attached_host", sa.String(length=255), nullable=True),
        sa.Column("mountpoint", sa.String(length=255), nullable=True),
        sa.Column("attach_mode", sa.String(length=8), nullable=False),
        sa.Column("attach_status", sa.String(length=16), nullable=False),
        sa.Column("attach_time", sa.DateTime(), nullable=True),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("connector", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_attachments_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_volume_attachments_volume_id"), ["volume_id"], unique=False
        )

    op.create_table(
        "volume_quotas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "resource"),
    )
    with op.batch_alter_table("volume_quotas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_quotas_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "volume_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=64), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("backend", sa.String(length=255), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("host", "binary"),
    )
    op.create_table(
        "volume_types",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("extra_specs", sa.JSON(), nullable=False),
        sa.Column("projects", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attach_status", sa.String(length=32), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("volume_type_id", sa.String(length=36), nullable=True),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("source_volid", sa.String(length=36), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("bootable", sa.Boolean(), nullable=False),
        sa.Column("multiattach", sa.Boolean(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("image_metadata", sa.JSON(), nullable=False),
        sa.Column("provider_location", sa.String(length=255), nullable=True),
        sa.Column("migration_status", sa.String(length=255), nullable=True),
        sa.Column("previous_status", sa.String(length=32), nullable=True),
        sa.Column("previous_size", sa.Integer(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volumes_deleted"), ["deleted"], unique=False)
        batch_op.create_index(batch_op.f("ix_volumes_host"), ["host"], unique=False)
        batch_op.create_index(batch_op.f("ix_volumes_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volumes_project_id"))
        batch_op.drop_index(batch_op.f("ix_volumes_host"))
        batch_op.drop_index(batch_op.f("ix_volumes_deleted"))

    op.drop_table("volumes")
    op.drop_table("volume_types")
    op.drop_table("volume_services")
    with op.batch_alter_table("volume_quotas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_quotas_project_id"))

    op.drop_table("volume_quotas")
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_attachments_volume_id"))
        batch_op.drop_index(batch_op.f("ix_volume_attachments_instance_uuid"))

    op.drop_table("volume_attachments")
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshots_volume_id"))
        batch_op.drop_index(batch_op.f("ix_snapshots_project_id"))
        batch_op.drop_index(batch_op.f("ix_snapshots_deleted"))

    op.drop_table("snapshots")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backups_volume_id"))
        batch_op.drop_index(batch_op.f("ix_backups_project_id"))
        batch_op.drop_index(batch_op.f("ix_backups_deleted"))

    op.drop_table("backups")
