"""network agents and network quotas; flat provider networks

The network data plane (docs/network-dataplane.md) adds Neutron's ``agents`` table, written
by the agents' ``report_state`` heartbeats, and per-project network quotas
(``network_quotas``). A flat network (the external ``public`` network) has no VXLAN VNI:
``networks.segmentation_id`` becomes nullable (still unique among the VNIs) and networks
gain ``physical_network``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 14:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_type", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("configurations", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_timestamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_type", "host"),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_host"), ["host"], unique=False)
    op.create_table(
        "network_quotas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "resource"),
    )
    with op.batch_alter_table("network_quotas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_quotas_project_id"), ["project_id"], unique=False
        )
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.alter_column("segmentation_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("physical_network", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # fails while a flat network (no VNI) exists: delete it first, 0004 cannot hold it
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("physical_network")
        batch_op.alter_column("segmentation_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("network_quotas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_quotas_project_id"))
    op.drop_table("network_quotas")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_host"))
    op.drop_table("agents")
