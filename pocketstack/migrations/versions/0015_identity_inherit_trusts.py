"""identity: inherited role assignments (OS-INHERIT) and trusts (OS-TRUST)

Keystone's ``assignment`` rows with ``inherited`` true, as a table of their own,
``identity_inherited_role_assignments``: an actor (user or group) holds a role on every
project of a domain, or on every project below a project. Keystone's ``trust`` table
(with its roles as a JSON list of role ids) as ``identity_trusts``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 04:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_inherited_role_assignments",
        sa.Column("actor_type", sa.String(length=8), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["identity_roles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("actor_type", "actor_id", "target_type", "target_id", "role_id"),
    )
    with op.batch_alter_table("identity_inherited_role_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_inherited_role_assignments_actor_id"),
            ["actor_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_identity_inherited_role_assignments_target_id"),
            ["target_id"],
            unique=False,
        )

    op.create_table(
        "identity_trusts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trustor_user_id", sa.String(length=64), nullable=False),
        sa.Column("trustee_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("impersonation", sa.Boolean(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("remaining_uses", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trustee_user_id"], ["identity_users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trustor_user_id"], ["identity_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_trusts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_trusts_trustee_user_id"), ["trustee_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_trusts_trustor_user_id"), ["trustor_user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_trusts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_trusts_trustor_user_id"))
        batch_op.drop_index(batch_op.f("ix_identity_trusts_trustee_user_id"))
    op.drop_table("identity_trusts")
    with op.batch_alter_table("identity_inherited_role_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_inherited_role_assignments_target_id"))
        batch_op.drop_index(batch_op.f("ix_identity_inherited_role_assignments_actor_id"))
    op.drop_table("identity_inherited_role_assignments")
