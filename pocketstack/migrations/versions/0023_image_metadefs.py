"""image: metadata definitions catalog (Glance's metadef namespaces, resource types and
their associations, objects, properties and tags), seeded with Glance's standard resource
types

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 12:45:00.000000
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

#: The resource types Glance's shipped definitions (etc/metadefs) associate namespaces with.
STANDARD_RESOURCE_TYPES = (
    "OS::Cinder::Volume",
    "OS::Glance::Image",
    "OS::Nova::Aggregate",
    "OS::Nova::Flavor",
    "OS::Nova::Server",
    "OS::Trove::Instance",
)
_NS = "image_metadef_namespaces"


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def _child(name: str, *columns: Any, unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        *columns,
        *_stamps(),
        sa.ForeignKeyConstraint(["namespace_id"], [f"{_NS}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*unique),
    )
    op.create_index(f"ix_{name}_namespace_id", name, ["namespace_id"])


def upgrade() -> None:
    op.create_table(
        _NS,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace"),
    )
    op.create_index(f"ix_{_NS}_owner", _NS, ["owner"])
    types = op.create_table(
        "image_metadef_resource_types",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    _child(
        "image_metadef_resource_type_associations",
        sa.Column("resource_type_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=80), nullable=True),
        sa.Column("properties_target", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["resource_type_id"], ["image_metadef_resource_types.id"]),
        unique=("namespace_id", "resource_type_id"),
    )
    op.create_index(
        "ix_image_metadef_resource_type_associations_resource_type_id",
        "image_metadef_resource_type_associations",
        ["resource_type_id"],
    )
    _child(
        "image_metadef_objects",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.JSON(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        unique=("namespace_id", "name"),
    )
    _child(
        "image_metadef_properties",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("json_schema", sa.JSON(), nullable=False),
        unique=("namespace_id", "name"),
    )
    _child(
        "image_metadef_tags",
        sa.Column("name", sa.String(length=255), nullable=False),
        unique=("namespace_id", "name"),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    op.bulk_insert(
        types,
        [
            {"name": n, "protected": True, "created_at": now, "updated_at": now}
            for n in STANDARD_RESOURCE_TYPES
        ],
    )


def downgrade() -> None:
    for name in (
        "image_metadef_tags",
        "image_metadef_properties",
        "image_metadef_objects",
        "image_metadef_resource_type_associations",
        "image_metadef_resource_types",
        _NS,
    ):
        op.drop_table(name)
