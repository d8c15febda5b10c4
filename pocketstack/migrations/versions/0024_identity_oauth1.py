"""identity: OS-OAUTH1 consumers, request tokens and access tokens

Keystone's ``consumer``, ``request_token`` and ``access_token`` tables as
``identity_oauth_consumers``, ``identity_oauth_request_tokens`` and
``identity_oauth_access_tokens``; secrets are kept encrypted (``encrypted_secret``).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 12:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_oauth_consumers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_oauth_request_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("requested_project_id", sa.String(length=64), nullable=False),
        sa.Column("authorizing_user_id", sa.String(length=64), nullable=True),
        sa.Column("role_ids", sa.JSON(), nullable=True),
        sa.Column("verifier", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["identity_oauth_consumers.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_project_id"], ["identity_projects.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["authorizing_user_id"], ["identity_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_identity_oauth_request_tokens_consumer_id",
        "identity_oauth_request_tokens",
        ["consumer_id"],
    )
    op.create_table(
        "identity_oauth_access_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("authorizing_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["identity_oauth_consumers.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["authorizing_user_id"], ["identity_users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["identity_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_identity_oauth_access_tokens_consumer_id",
        "identity_oauth_access_tokens",
        ["consumer_id"],
    )
    op.create_index(
        "ix_identity_oauth_access_tokens_authorizing_user_id",
        "identity_oauth_access_tokens",
        ["authorizing_user_id"],
    )


def downgrade() -> None:
    op.drop_table("identity_oauth_access_tokens")
    op.drop_table("identity_oauth_request_tokens")
    op.drop_table("identity_oauth_consumers")
