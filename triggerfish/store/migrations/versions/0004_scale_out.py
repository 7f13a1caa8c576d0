"""Scale-out: workflow ownership leases, and the Kafka bus's (source, id) index.

Revision ID: 0004
Revises: 0003m
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003m"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("owner", sa.String(253)))
        batch.add_column(sa.Column("lease_until", Timestamp))
    op.create_index("ix_workflows_lease", "workflows", ["phase", "lease_until"])
    op.create_table(
        "bus_event_ids",
        sa.Column("topic", sa.String(249), primary_key=True),
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("event_id", sa.String(512), primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
    )
    op.create_index("ix_bus_event_ids_recorded", "bus_event_ids", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_bus_event_ids_recorded", "bus_event_ids")
    op.drop_table("bus_event_ids")
    op.drop_index("ix_workflows_lease", "workflows")
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("owner")
