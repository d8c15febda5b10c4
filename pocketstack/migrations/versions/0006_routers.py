"""routers, their extra routes and floating IPs

The Neutron L3 API (routers, router interfaces, ``extraroute``, floating IPs): ``routers``
(with the gateway's external network and ``enable_snat``), ``routerroutes`` and
``floatingips``. Router and floating IP ports are ordinary ``ports`` rows (``device_owner``
``network:router_interface``, ``network:router_gateway``, ``network:floatingip``), so
``ports`` does not change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 14:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gw_network_id", sa.String(length=36), nullable=True),
        sa.Column("enable_snat", sa.Boolean(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["gw_network_id"], ["networks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routers_gw_network_id"), ["gw_network_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_routers_project_id"), ["project_id"], unique=False)

    op.create_table(
        "floatingips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["floating_network_id"], ["networks.id"]),
        sa.ForeignKeyConstraint(["floating_port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"]),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("floating_network_id", "port_id", "fixed_ip_address"),
    )
    with op.batch_alter_table("floatingips", schema=None) as batch_op:
        for column in (
            "floating_network_id",
            "floating_port_id",
            "port_id",
            "project_id",
            "router_id",
        ):
            batch_op.create_index(batch_op.f(f"ix_floatingips_{column}"), [column], unique=False)

    op.create_table(
        "routerroutes",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("nexthop", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id", "destination", "nexthop"),
    )


def downgrade() -> None:
    op.drop_table("routerroutes")
    with op.batch_alter_table("floatingips", schema=None) as batch_op:
        for column in (
            "router_id",
            "project_id",
            "port_id",
            "floating_port_id",
            "floating_network_id",
        ):
            batch_op.drop_index(batch_op.f(f"ix_floatingips_{column}"))
    op.drop_table("floatingips")
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routers_project_id"))
        batch_op.drop_index(batch_op.f("ix_routers_gw_network_id"))
    op.drop_table("routers")
