"""identity: inherited role assignments (OS-INHERIT)

Keystone's ``assignment`` rows with ``inherited`` true, as a table of their own,
``identity_inherited_role_assignments``: an actor (user or group) holds a role on every
project of a domain, or on every project below a project.

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


def downgrade() -> None:
    with op.batch_alter_table("identity_inherited_role_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_inherited_role_assignments_target_id"))
        batch_op.drop_index(batch_op.f("ix_identity_inherited_role_assignments_actor_id"))
    op.drop_table("identity_inherited_role_assignments")
