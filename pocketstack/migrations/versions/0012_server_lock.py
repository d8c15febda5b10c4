"""compute: who locked a server and why (Nova's ``locked_by`` and ``locked_reason``)

The ``lock`` server action (API reference "Lock Server (lock Action)") records whether the
owner's project or an admin locked the server, and the reason given (microversion 2.73).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 22:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("locked_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("locked_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("locked_reason")
        batch.drop_column("locked_by")
