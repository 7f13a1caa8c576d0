"""Session-wide real servers for the scale-out profile: one Kafka broker, one PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.kafka import KafkaBroker, running_broker
from tests.support.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    with running_broker() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server
