"""network: RBAC policies on networks, subnet pools and address scopes

Neutron's ``networkrbacs`` (one row per network, action and target project, ``*`` for every
project); the networks already ``shared`` or ``router:external`` get their ``*`` row, as
Neutron keeps one for each. Neutron's ``address_scopes``, ``subnetpools`` (the pool's
prefixes as a JSON list of CIDRs) and ``subnets.subnetpool_id``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 05:10:00.000000
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rbac = op.create_table(
        "networkrbacs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["object_id"], ["networks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action", "object_id", "target_project"),
    )
    with op.batch_alter_table("networkrbacs", schema=None) as batch_op:
        for column in ("object_id", "project_id", "target_project"):
            batch_op.create_index(batch_op.f(f"ix_networkrbacs_{column}"), [column], unique=False)
    networks = sa.table(
        "networks",
        sa.column("id", sa.String),
        sa.column("project_id", sa.String),
        sa.column("shared", sa.Boolean),
        sa.column("external", sa.Boolean),
    )
    bind = op.get_bind()
    rows = []
    for net in bind.execute(sa.select(networks)):
        for flag, action in (
            (net.shared, "access_as_shared"),
            (net.external, "access_as_external"),
        ):
            if flag:
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "project_id": net.project_id,
                        "object_id": net.id,
                        "action": action,
                        "target_project": "*",
                    }
                )
    if rows:
        op.bulk_insert(rbac, rows)

    op.create_table(
        "address_scopes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("address_scopes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_address_scopes_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "subnetpools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("address_scope_id", sa.String(length=36), nullable=True),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["address_scope_id"], ["address_scopes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subnetpools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subnetpools_project_id"), ["project_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_subnetpools_address_scope_id"), ["address_scope_id"], unique=False
        )

    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subnetpool_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_subnets_subnetpool_id"), ["subnetpool_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subnets_subnetpool_id"))
        batch_op.drop_column("subnetpool_id")
    with op.batch_alter_table("subnetpools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subnetpools_address_scope_id"))
        batch_op.drop_index(batch_op.f("ix_subnetpools_project_id"))
    op.drop_table("subnetpools")
    with op.batch_alter_table("address_scopes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_address_scopes_project_id"))
    op.drop_table("address_scopes")
    with op.batch_alter_table("networkrbacs", schema=None) as batch_op:
        for column in ("target_project", "project_id", "object_id"):
            batch_op.drop_index(batch_op.f(f"ix_networkrbacs_{column}"))
    op.drop_table("networkrbacs")
