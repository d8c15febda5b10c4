"""ports' extra DHCP options

Neutron's ``extra_dhcp_opt`` extension: a port carries extra DHCP options
(``[{"opt_name", "opt_value", "ip_version"}]``) that the DHCP agent serves to that port
only. Kept as a JSON list on the port (``ports.extra_dhcp_opts``), as its allowed address
pairs are; existing ports get ``[]``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("extra_dhcp_opts", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_column("extra_dhcp_opts")
