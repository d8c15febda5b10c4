"""placement: resource providers, inventories, allocations, consumers, classes, traits

docs/placement.md: the Placement service's tables (``pocketstack/placement/models.py``),
prefixed ``placement_``; standard resource classes and traits are not stored.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "placement_consumers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("consumer_type", sa.String(length=255), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index(
        op.f("ix_placement_consumers_project_id"),
        "placement_consumers",
        ["project_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_placement_consumers_user_id"), "placement_consumers", ["user_id"], unique=False
    )
    op.create_table(
        "placement_resource_classes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "placement_resource_providers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("parent_provider_id", sa.Integer(), nullable=True),
        sa.Column("root_provider_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_provider_id"],
            ["placement_resource_providers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index(
        op.f("ix_placement_resource_providers_parent_provider_id"),
        "placement_resource_providers",
        ["parent_provider_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_placement_resource_providers_root_provider_id"),
        "placement_resource_providers",
        ["root_provider_id"],
        unique=False,
    )
    op.create_table(
        "placement_traits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "placement_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_provider_id", sa.Integer(), nullable=False),
        sa.Column("consumer_id", sa.String(length=36), nullable=False),
        sa.Column("resource_class", sa.String(length=255), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_provider_id"],
            ["placement_resource_providers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_placement_allocations_consumer_id"),
        "placement_allocations",
        ["consumer_id"],
        unique=False,
    )
    op.create_index(
        "ix_placement_allocations_rp_rc",
        "placement_allocations",
        ["resource_provider_id", "resource_class"],
        unique=False,
    )
    op.create_table(
        "placement_inventories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_provider_id", sa.Integer(), nullable=False),
        sa.Column("resource_class", sa.String(length=255), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("min_unit", sa.BigInteger(), nullable=False),
        sa.Column("max_unit", sa.BigInteger(), nullable=False),
        sa.Column("step_size", sa.BigInteger(), nullable=False),
        sa.Column("allocation_ratio", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_provider_id"], ["placement_resource_providers.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource_provider_id", "resource_class"),
    )
    op.create_index(
        op.f("ix_placement_inventories_resource_class"),
        "placement_inventories",
        ["resource_class"],
        unique=False,
    )
    op.create_index(
        op.f("ix_placement_inventories_resource_provider_id"),
        "placement_inventories",
        ["resource_provider_id"],
        unique=False,
    )
    op.create_table(
        "placement_provider_aggregates",
        sa.Column("resource_provider_id", sa.Integer(), nullable=False),
        sa.Column("aggregate_uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_provider_id"], ["placement_resource_providers.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_provider_id", "aggregate_uuid"),
    )
    op.create_index(
        op.f("ix_placement_provider_aggregates_aggregate_uuid"),
        "placement_provider_aggregates",
        ["aggregate_uuid"],
        unique=False,
    )
    op.create_table(
        "placement_provider_traits",
        sa.Column("resource_provider_id", sa.Integer(), nullable=False),
        sa.Column("trait", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_provider_id"], ["placement_resource_providers.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_provider_id", "trait"),
    )
    op.create_index(
        op.f("ix_placement_provider_traits_trait"),
        "placement_provider_traits",
        ["trait"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("placement_provider_traits")
    op.drop_table("placement_provider_aggregates")
    op.drop_table("placement_inventories")
    op.drop_table("placement_allocations")
    op.drop_table("placement_traits")
    op.drop_table("placement_resource_providers")
    op.drop_table("placement_resource_classes")
    op.drop_table("placement_consumers")
