"""identity: policies, OS-EP-FILTER, domain configuration, unified limits

Keystone's ``policy`` table as ``identity_policies``; OS-EP-FILTER's
``project_endpoint``, ``endpoint_group`` and ``project_endpoint_group`` as
``identity_project_endpoints``, ``identity_endpoint_groups`` and
``identity_project_endpoint_groups``; the domain-specific configuration (Keystone's
``whitelisted_config`` and ``sensitive_config``, one table with a ``sensitive`` flag) as
``identity_domain_configs``; unified limits (Keystone's ``registered_limit`` and ``limit``)
as ``identity_registered_limits`` and ``identity_limits``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_policies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_project_endpoints",
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["identity_endpoints.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["identity_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("endpoint_id", "project_id"),
    )
    op.create_index(
        "ix_identity_project_endpoints_project_id", "identity_project_endpoints", ["project_id"]
    )
    op.create_table(
        "identity_endpoint_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_project_endpoint_groups",
        sa.Column("endpoint_group_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_group_id"], ["identity_endpoint_groups.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["project_id"], ["identity_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("endpoint_group_id", "project_id"),
    )
    op.create_index(
        "ix_identity_project_endpoint_groups_project_id",
        "identity_project_endpoint_groups",
        ["project_id"],
    )
    op.create_table(
        "identity_domain_configs",
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=255), nullable=False),
        sa.Column("option", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["identity_domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id", "group", "option"),
    )
    op.create_table(
        "identity_registered_limits",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=255), nullable=True),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("default_limit", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["identity_services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_identity_registered_limits_service_id", "identity_registered_limits", ["service_id"]
    )
    op.create_table(
        "identity_limits",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("registered_limit_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("domain_id", sa.String(length=64), nullable=True),
        sa.Column("resource_limit", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registered_limit_id"], ["identity_registered_limits.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("registered_limit_id", "project_id", "domain_id"):
        op.create_index(f"ix_identity_limits_{column}", "identity_limits", [column])


def downgrade() -> None:
    for column in ("registered_limit_id", "project_id", "domain_id"):
        op.drop_index(f"ix_identity_limits_{column}", "identity_limits")
    op.drop_table("identity_limits")
    op.drop_index("ix_identity_registered_limits_service_id", "identity_registered_limits")
    op.drop_table("identity_registered_limits")
    op.drop_table("identity_domain_configs")
    op.drop_index(
        "ix_identity_project_endpoint_groups_project_id", "identity_project_endpoint_groups"
    )
    op.drop_table("identity_project_endpoint_groups")
    op.drop_table("identity_endpoint_groups")
    op.drop_index("ix_identity_project_endpoints_project_id", "identity_project_endpoints")
    op.drop_table("identity_project_endpoints")
    op.drop_table("identity_policies")
