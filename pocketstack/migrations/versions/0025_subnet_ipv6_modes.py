"""network: a subnet's ``ipv6_ra_mode`` and ``ipv6_address_mode`` (Neutron's
``subnets.ipv6_ra_mode`` / ``subnets.ipv6_address_mode``)

IPv6 subnets keep how their hosts learn addresses (``slaac``, ``dhcpv6-stateful``,
``dhcpv6-stateless``) and who advertises the prefix, as Neutron stores them; IPAM gives
ports EUI-64 addresses on SLAAC and stateless subnets, and the data plane sends router
advertisements and serves DHCPv6 from them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 12:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ipv6_ra_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ipv6_address_mode", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.drop_column("ipv6_address_mode")
        batch_op.drop_column("ipv6_ra_mode")
