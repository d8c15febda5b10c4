"""identity: nested projects and credentials

Keystone's project hierarchy: ``identity_projects.parent_id`` is the parent project, or
null for a project directly under its domain (the API shows the domain's id then, as
Keystone's ``is_domain`` projects do). Keystone's ``credential`` table as
``identity_credentials``: a user's credential of some ``type`` (``ec2``, ``totp``,
``cert``...) whose blob is kept only encrypted (Fernet, keys under
``<state_dir>/credential-keys``); EC2 credentials are rows of type ``ec2`` whose id is the
SHA-256 of their access key, as in Keystone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 22:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_identity_projects_parent_id"), ["parent_id"], unique=False
        )
    op.create_table(
        "identity_credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("encrypted_blob", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_credentials_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_credentials_user_id"))
    op.drop_table("identity_credentials")
    with op.batch_alter_table("identity_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_projects_parent_id"))
        batch_op.drop_column("parent_id")
