"""The trigger_firings table: idempotency keys, insert-if-absent, status transitions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from triggers.firings import Finished, FiringStore, NewFiring, firing_key
from triggers.registry import DRIVER_CLASSES, default_drivers

from ..sensors.helpers import T0, FakeSubmitter


def test_firing_key_is_deterministic_and_order_independent() -> None:
    key = firing_key("ns", "s", "t", {"a": 1, "b": 2})
    assert key == firing_key("ns", "s", "t", {"b": 2, "a": 1})
    assert len(key) == 64
    assert key != firing_key("ns", "s", "t", {"a": 1, "b": 3})
    assert key != firing_key("ns", "s", "t2", {"a": 1, "b": 2})
    assert key != firing_key("other", "s", "t", {"a": 1, "b": 2})


async def test_insert_if_absent_and_transitions(engine: AsyncEngine) -> None:
    store = FiringStore(engine)
    firing = NewFiring("ns", "s", "t", {"a": 1})
    other = NewFiring("ns", "s", "t", {"a": 2})
    async with engine.begin() as conn:
        created = await FiringStore.create_many(conn, [firing], T0)
        # the same set of events again, in a batch with a new one (and twice in that batch)
        created_again = await FiringStore.create_many(conn, [firing, other, other], T0)
    assert [record.key for record in created] == [firing.key]
    assert [record.key for record in created_again] == [other.key]
    first = await store.get(firing.key)
    assert created == [first]  # the records returned are what the store holds
    assert first is not None and first.key == firing_key("ns", "s", "t", {"a": 1})
    assert (first.status, first.attempts, first.offsets) == ("pending", 0, [1])
    pending = await store.pending("ns", "s")
    assert [p.key for p in pending] == [firing.key, other.key]
    await store.finish_many([Finished(pending[1].id, "failed", 1, error="gone")], now=T0)
    assert [p.id for p in await store.pending("ns", "s")] == [first.id]
    gone = await store.get(other.key)
    assert gone is not None and (gone.status, gone.attempts, gone.error) == ("failed", 1, "gone")

    await store.attempted(first.id, 1, "boom", T0 + timedelta(seconds=1))
    still = await store.get(first.key)
    assert still is not None and (still.status, still.attempts, still.error) == ("pending", 1, "boom")

    await store.finish(
        first.id, "succeeded", attempts=2, now=T0 + timedelta(seconds=2), result={"workflow": "w"}
    )
    done = await store.get(first.key)
    assert done is not None
    assert (done.status, done.attempts, done.result, done.error) == ("succeeded", 2, {"workflow": "w"}, None)
    assert done.updated_at == T0 + timedelta(seconds=2)
    # a finished firing is never changed again
    await store.finish(first.id, "failed", attempts=9, now=T0, error="late")
    final = await store.get(first.key)
    assert final is not None and final.status == "succeeded"
    assert await store.pending("ns", "s") == []


async def test_claims_go_to_one_replica_until_they_expire(engine: AsyncEngine) -> None:
    """Two replicas see the same pending firings: each firing is claimed by exactly one of them, a
    holder may renew its claims, an expired claim (a dead replica) can be taken over, and a
    finished firing cannot be claimed."""
    store = FiringStore(engine)
    firings = [NewFiring("ns", "s", "t", {"a": n}) for n in range(4)]
    async with engine.begin() as conn:
        await FiringStore.create_many(conn, firings, T0)
    ids = [p.id for p in await store.pending("ns", "s")]

    assert await store.claim(ids[:2], "a", 30) == set(ids[:2])
    assert await store.claim(ids, "b", 30) == set(ids[2:])
    assert await store.claim(ids, "a", 30) == set(ids[:2])  # renewal; b's claims are live
    assert [p.id for p in await store.pending("ns", "s", claimable_by="b")] == ids[2:]
    assert [p.id for p in await store.pending("ns", "s")] == ids

    # "a" dies: its claims lapse (a zero-second lease), and "b" takes them over
    assert await store.claim(ids[:2], "a", 0) == set(ids[:2])
    await asyncio.sleep(0.01)
    assert [p.id for p in await store.pending("ns", "s", claimable_by="b")] == ids
    assert await store.claim(ids, "b", 30) == set(ids)
    assert await store.claim(ids, "a", 30) == set()

    await store.finish(ids[0], "succeeded", attempts=1, now=T0)
    assert await store.claim(ids, "b", 30) == set(ids[1:])
    assert await store.claim([], "b", 30) == set()


async def test_firings_created_claimed_belong_to_their_replica_until_the_lease_ends(
    engine: AsyncEngine,
) -> None:
    """A replica creates its firings already claimed: another replica cannot claim them (nor sees
    them as claimable) while the lease lasts, the creator renews them, and they lapse like claims."""
    store = FiringStore(engine)
    async with engine.begin() as conn:
        created = await FiringStore.create_many(
            conn,
            [NewFiring("ns", "s", "t", {"a": n}) for n in range(3)],
            T0,
            claimed_by="a",
            lease_seconds=30,
        )
        unclaimed = await FiringStore.create_many(conn, [NewFiring("ns", "s", "t", {"a": 9})], T0)
    ids = [record.id for record in created]
    assert [p.id for p in await store.pending("ns", "s", claimable_by="b")] == [unclaimed[0].id]
    assert await store.claim(ids, "b", 30) == set()
    assert await store.claim(ids, "a", 0) == set(ids)  # renewed, with a lease that ends at once
    await asyncio.sleep(0.01)
    assert await store.claim(ids, "b", 30) == set(ids)


def test_registry() -> None:
    assert set(DRIVER_CLASSES) == {"log", "http", "kafka", "argoWorkflow", "k8s"}
    assert set(default_drivers()) == {"log", "http", "kafka"}
    assert set(default_drivers(submitter=FakeSubmitter())) == {"log", "http", "kafka", "argoWorkflow", "k8s"}
