"""compute: a compute node's instance storage (its instances directory, shared or local)

``compute_nodes.instances_path`` (the directory the host keeps its guests' files in) and
``compute_nodes.instances_shared_storage`` (whether that directory is storage other hosts
mount too), as the agent reports them (``compute.instance_storage``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_nodes") as batch:
        batch.add_column(sa.Column("instances_path", sa.String(length=1024), nullable=True))
        batch.add_column(
            sa.Column(
                "instances_shared_storage",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_nodes") as batch:
        batch.drop_column("instances_shared_storage")
        batch.drop_column("instances_path")
