"""Workflows, their nodes, and stored manifests (templates).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("uid", sa.String(64), primary_key=True),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("manifest", JSONType, nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("status", JSONType, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("namespace", "name", name="uq_workflows_namespace_name"),
    )
    op.create_index("ix_workflows_phase", "workflows", ["phase"])
    op.create_index("ix_workflows_created", "workflows", ["namespace", "created_at"])
    op.create_table(
        "nodes",
        sa.Column(
            "workflow_uid",
            sa.String(64),
            sa.ForeignKey("workflows.uid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("node_id", sa.String(300), primary_key=True),
        sa.Column("data", JSONType, nullable=False),
    )
    op.create_table(
        "resources",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("manifest", JSONType, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("resources")
    op.drop_table("nodes")
    op.drop_index("ix_workflows_created", "workflows")
    op.drop_index("ix_workflows_phase", "workflows")
    op.drop_table("workflows")
