"""compute: console auth tokens (Nova's ``console_auth_tokens``)

A console URL's one-time token, as its SHA-256, in the database instead of the issuing
controller's memory: it survives a restart and any controller's proxy redeems it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_auth_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("console_type", sa.String(length=255), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("connect", sa.JSON(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("console_auth_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_auth_tokens_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_console_auth_tokens_expires"), ["expires"], unique=False
        )


def downgrade() -> None:
    op.drop_table("console_auth_tokens")
