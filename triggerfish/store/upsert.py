"""``INSERT … ON CONFLICT DO UPDATE`` for whichever dialect the engine speaks."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(table: sa.Table, dialect: str, keys: Sequence[str], update: Sequence[str]) -> sa.Insert:
    """An insert statement that overwrites ``update`` columns when ``keys`` already exist."""
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    result: sa.Insert = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={column: statement.excluded[column] for column in update},
    )
    return result
