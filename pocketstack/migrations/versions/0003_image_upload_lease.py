"""image upload lease: which controller holds an image's data work, and until when

Images an older version left in ``saving`` or ``importing`` (a controller killed mid-upload:
stuck for good before this revision) get a lease that has already lapsed, so the first reaper
round of the new version puts them back to ``queued``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:00:00.000000
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upload_lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("upload_lease_expires_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_images_upload_lease_expires_at"),
            ["upload_lease_expires_at"],
            unique=False,
        )
    images = sa.table(
        "images",
        sa.column("status", sa.String),
        sa.column("upload_lease_owner", sa.String),
        sa.column("upload_lease_expires_at", sa.DateTime),
    )
    op.execute(
        images.update()
        .where(images.c.status.in_(("saving", "importing")))
        .values(upload_lease_owner="before-0003", upload_lease_expires_at=dt.datetime(1970, 1, 1))
    )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_upload_lease_expires_at"))
        batch_op.drop_column("upload_lease_expires_at")
        batch_op.drop_column("upload_lease_owner")
