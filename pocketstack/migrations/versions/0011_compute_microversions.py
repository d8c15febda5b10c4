"""compute: server tags (microversion 2.26)

Compute API microversion 2.26 ("Server tags"): Nova's ``tags`` table, one row per tag of a server,
keyed by (server, tag), the tag indexed for the ``tags``/``not-tags`` list filters.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_tags",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("instance_uuid", "tag"),
    )
    with op.batch_alter_table("instance_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instance_tags_tag"), ["tag"], unique=False)


def downgrade() -> None:
    op.drop_table("instance_tags")
