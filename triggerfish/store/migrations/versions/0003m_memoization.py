"""Memoization cache (Argo keeps it in ConfigMaps; Triggerfish in the store).

Revision ID: 0003m
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003m"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "memo_cache",
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("cache_name", sa.String(253), primary_key=True),
        sa.Column("key", sa.String(1024), primary_key=True),
        sa.Column("outputs", JSONType, nullable=False),
        sa.Column("node_id", sa.String(300), nullable=False),
        sa.Column("workflow", sa.String(253), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("memo_cache")
