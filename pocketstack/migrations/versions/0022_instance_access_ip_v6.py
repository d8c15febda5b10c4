"""compute: a server's ``accessIPv6`` (Nova's ``instances.access_ip_v6``)

Nova keeps both access addresses a user sets on create, rebuild or update and shows them
back; until now only ``accessIPv4`` had a column, so ``accessIPv6`` was accepted and lost.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 12:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_ip_v6", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("access_ip_v6")
