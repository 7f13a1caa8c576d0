"""Scale-out: a pending trigger firing is claimed by one replica before it fires.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("trigger_firings") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(253)))
        batch.add_column(sa.Column("claim_until", Timestamp))


def downgrade() -> None:
    with op.batch_alter_table("trigger_firings") as batch:
        batch.drop_column("claim_until")
        batch.drop_column("claimed_by")
