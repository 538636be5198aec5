"""The inbox on the real PostgreSQL: events handled at the same time share one transaction,
each is applied once, and one that fails fails alone."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from shared import inbox
from shared.bus.bus import TransientError
from shared.db import make_engine, utcnow
from shared.events import EventEnvelope, FavoriteAdded, wrap
from shared.inbox import BATCH_LINGER_S, ENOUGH_TO_START, execute_later, handle_once

CONSUMER = "inbox-tests"


@pytest.fixture(scope="module")
def engine(make_database) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = make_engine(make_database("catalog"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS inbox_probe (event_id uuid)"))
    yield engine
    engine.dispose()


@pytest.fixture
def clean(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM inbox_probe"))
        connection.execute(text("DELETE FROM inbox_event"))


@pytest.fixture
def commits(engine: Engine) -> Iterator[list[int]]:
    counted: list[int] = []

    def count(_: Any) -> None:
        counted.append(1)

    event.listen(engine, "commit", count)
    yield counted
    event.remove(engine, "commit", count)


def _envelope() -> EventEnvelope:
    return wrap(FavoriteAdded(user_id=uuid.uuid4(), movie_id=1, at=utcnow()), producer="tests")


def _probe(envelope: EventEnvelope) -> Any:
    def effect(session: Session) -> None:
        session.execute(
            text("INSERT INTO inbox_probe (event_id) VALUES (:id)"), {"id": envelope.event_id}
        )

    return effect


def _applied(engine: Engine) -> list[uuid.UUID]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT event_id FROM inbox_probe")).all()
    return [uuid.UUID(str(row[0])) for row in rows]


def _recorded(engine: Engine) -> set[uuid.UUID]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event_id FROM inbox_event WHERE consumer = :c"), {"c": CONSUMER}
        ).all()
    return {uuid.UUID(str(row[0])) for row in rows}


async def _handle(engine: Engine, envelope: EventEnvelope, effect: Any = None) -> bool:
    return await handle_once(
        engine, consumer=CONSUMER, envelope=envelope, effect=effect or _probe(envelope)
    )


async def test_events_handled_together_share_one_transaction_and_apply_once(
    engine: Engine, clean: None, commits: list[int]
) -> None:
    envelopes = [_envelope() for _ in range(20)]
    repeated = envelopes[3]  # delivered twice at once (say, a redelivery)
    results = await asyncio.gather(
        *(_handle(engine, envelope) for envelope in [*envelopes, repeated])
    )
    assert results == [True] * 20 + [False]
    assert sorted(_applied(engine)) == sorted(e.event_id for e in envelopes)
    assert len(commits) == 1  # one transaction for the 21 events, not 21
    assert await _handle(engine, envelopes[0]) is False  # seen before: nothing again
    assert len(_applied(engine)) == 20


async def test_an_event_asked_to_be_alone_has_a_transaction_of_its_own_in_its_turn(
    engine: Engine, clean: None
) -> None:
    """Effects that take row locks in an order of their own run alone, so two transactions
    never hold them in opposite orders; the events around them keep theirs."""
    ran: list[tuple[int, int]] = []  # (the event's place, its transaction)

    def noted(place: int, envelope: EventEnvelope) -> Any:
        def effect(session: Session) -> None:
            _probe(envelope)(session)
            ran.append((place, int(session.execute(text("SELECT txid_current()")).scalar_one())))

        return effect

    envelopes = [_envelope() for _ in range(5)]
    results = await asyncio.gather(
        *(
            handle_once(
                engine,
                consumer=CONSUMER,
                envelope=envelope,
                effect=noted(place, envelope),
                alone=place == 2,
            )
            for place, envelope in enumerate(envelopes)
        )
    )
    assert results == [True] * 5
    assert [place for place, _ in ran] == [0, 1, 2, 3, 4]
    transactions = [transaction for _, transaction in ran]
    assert transactions[0] == transactions[1] != transactions[2] != transactions[3]
    assert transactions[3] == transactions[4]
    assert sorted(_applied(engine)) == sorted(e.event_id for e in envelopes)


async def test_events_arriving_one_after_another_wait_for_each_other(
    engine: Engine, clean: None, commits: list[int]
) -> None:
    """Under load events come a few milliseconds apart, not at the same moment: the first
    waits (BATCH_LINGER_S) for the others to join its transaction."""
    warm_up = _envelope()
    assert await _handle(engine, warm_up)  # the consumer is busy now
    commits.clear()
    envelopes = [_envelope() for _ in range(5)]
    handled = []
    for envelope in envelopes:
        handled.append(asyncio.ensure_future(_handle(engine, envelope)))
        await asyncio.sleep(BATCH_LINGER_S / 10)
    assert await asyncio.gather(*handled) == [True] * 5
    assert len(commits) == 1
    assert sorted(_applied(engine)) == sorted(e.event_id for e in [warm_up, *envelopes])


async def test_enough_events_waiting_start_their_transaction_at_once(
    engine: Engine, clean: None, commits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await _handle(engine, _envelope())  # the consumer is busy now
    monkeypatch.setattr(inbox, "BATCH_LINGER_S", 30.0)  # only a full batch can start it
    commits.clear()
    first = asyncio.ensure_future(_handle(engine, _envelope()))
    await asyncio.sleep(0.05)
    assert not first.done()  # lingering for the others
    rest = [_handle(engine, _envelope()) for _ in range(ENOUGH_TO_START - 1)]
    async with asyncio.timeout(10):
        assert await asyncio.gather(first, *rest) == [True] * ENOUGH_TO_START
    assert len(commits) == 1


async def test_an_idle_consumer_applies_a_lone_event_at_once(
    engine: Engine, clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def handle_alone() -> bool:
        envelope = _envelope()  # a consumer of its own: nothing ran before it
        return await handle_once(
            engine, consumer="inbox-idle-tests", envelope=envelope, effect=_probe(envelope)
        )

    monkeypatch.setattr(inbox, "BATCH_LINGER_S", 30.0)
    async with asyncio.timeout(5):
        assert await handle_alone()  # no wait
    monkeypatch.setattr(inbox, "BUSY_WITHIN_S", 0.05)
    await asyncio.sleep(0.1)  # idle again
    async with asyncio.timeout(5):
        assert await handle_alone()


async def test_a_failing_effect_fails_alone(engine: Engine, clean: None) -> None:
    envelopes = [_envelope() for _ in range(10)]
    broken = envelopes[4]

    def fails(session: Session) -> None:
        _probe(broken)(session)
        raise ValueError("this event cannot be applied")

    results = await asyncio.gather(
        *(_handle(engine, e, fails if e is broken else None) for e in envelopes),
        return_exceptions=True,
    )
    assert isinstance(results[4], ValueError)
    assert [r for i, r in enumerate(results) if i != 4] == [True] * 9
    others = {e.event_id for e in envelopes if e is not broken}
    assert sorted(_applied(engine)) == sorted(others)  # once each, none of the broken one
    assert _recorded(engine) == others  # the broken one is not recorded: it is tried again


_NOTE = text("INSERT INTO inbox_note (event_id, note) VALUES (:id, :note)")
_UNNOTE = text("DELETE FROM inbox_note WHERE event_id = :id")


@pytest.fixture
def notes(engine: Engine) -> Iterator[None]:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS inbox_note (event_id uuid, note text)"))
        connection.execute(text("DELETE FROM inbox_note"))
    yield


def _notes(engine: Engine) -> dict[uuid.UUID, str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT event_id, note FROM inbox_note")).all()
    return {uuid.UUID(str(row[0])): row[1] for row in rows}


async def test_deferred_statements_go_in_one_round_trip_in_their_order(
    engine: Engine, clean: None, notes: None
) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    envelopes = [_envelope() for _ in range(6)]

    def effect(envelope: EventEnvelope, index: int) -> Any:
        def apply(session: Session) -> None:
            note = f"50% 'quoted' \\ {index}"  # the driver's and SQL's special characters
            execute_later(session, _NOTE, {"id": envelope.event_id, "note": note})
            if index % 2:  # noted, then un-noted: the order asked is kept
                execute_later(session, _UNNOTE, {"id": envelope.event_id})

        return apply

    event.listen(engine, "before_cursor_execute", seen)
    try:
        results = await asyncio.gather(
            *(_handle(engine, e, effect(e, i)) for i, e in enumerate(envelopes))
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert results == [True] * 6
    assert _notes(engine) == {
        e.event_id: f"50% 'quoted' \\ {i}" for i, e in enumerate(envelopes) if not i % 2
    }
    assert len([s for s in statements if "inbox_note" in s]) == 1  # nine statements, one trip


async def test_a_failing_deferred_statement_fails_its_event_alone(
    engine: Engine, clean: None, notes: None
) -> None:
    envelopes = [_envelope() for _ in range(5)]
    broken = envelopes[2]

    def effect(envelope: EventEnvelope) -> Any:
        def apply(session: Session) -> None:
            if envelope is broken:
                execute_later(session, text("SELECT 1 / 0"), {})
            execute_later(session, _NOTE, {"id": envelope.event_id, "note": "fine"})

        return apply

    results = await asyncio.gather(
        *(_handle(engine, e, effect(e)) for e in envelopes), return_exceptions=True
    )
    assert isinstance(results[2], sqlalchemy.exc.DataError)  # division by zero
    assert [r for i, r in enumerate(results) if i != 2] == [True] * 4
    assert set(_notes(engine)) == {e.event_id for e in envelopes if e is not broken}
    assert broken.event_id not in _recorded(engine)


async def test_a_statement_after_deferred_ones_sees_them(
    engine: Engine, clean: None, notes: None
) -> None:
    """As an account deletion in the same batch as the account's last favorite: the delete
    runs after the deferred insert, and a read in between sees it."""
    noted, forgotten = _envelope(), _envelope()
    seen: list[int] = []

    def forget(session: Session) -> None:
        seen.append(session.execute(text("SELECT count(*) FROM inbox_note")).scalar_one())
        session.execute(_UNNOTE, {"id": noted.event_id})

    results = await asyncio.gather(
        _handle(
            engine,
            noted,
            lambda s: execute_later(s, _NOTE, {"id": noted.event_id, "note": "then gone"}),
        ),
        _handle(engine, forgotten, forget),
    )
    assert results == [True, True]
    assert seen == [1]
    assert _notes(engine) == {}


def test_a_rollback_drops_what_was_deferred(engine: Engine, notes: None) -> None:
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    with Session(engine) as session:
        execute_later(session, _NOTE, {"id": dropped, "note": "rolled back"})
        session.rollback()
        execute_later(session, _NOTE, {"id": kept, "note": "committed"})
        session.commit()  # any commit runs them, not only the inbox's
    assert _notes(engine) == {kept: "committed"}


async def test_an_effect_that_ends_the_shared_transaction_is_applied_alone(
    engine: Engine, clean: None
) -> None:
    envelopes = [_envelope() for _ in range(6)]

    def commits_itself(session: Session) -> None:
        _probe(envelopes[2])(session)
        session.commit()

    def rolls_back(session: Session) -> None:
        session.rollback()
        _probe(envelopes[3])(session)

    effects = {2: commits_itself, 3: rolls_back}
    results = await asyncio.gather(
        *(_handle(engine, e, effects.get(i)) for i, e in enumerate(envelopes))
    )
    assert results == [True] * 6
    assert sorted(_applied(engine)) == sorted(e.event_id for e in envelopes)


async def test_a_cancelled_handler_leaves_the_others_applied(engine: Engine, clean: None) -> None:
    first, second, third = _envelope(), _envelope(), _envelope()
    tasks = [asyncio.create_task(_handle(engine, e)) for e in (first, second, third)]
    await asyncio.sleep(0)  # all three are waiting for their transaction
    tasks[1].cancel()
    assert await tasks[0] is True and await tasks[2] is True
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    assert await _handle(engine, second) in (True, False)  # its redelivery: applied once at most
    assert sorted(_applied(engine)) == sorted(e.event_id for e in (first, second, third))


async def test_a_database_outage_is_a_transient_error(clean: None) -> None:
    unreachable = make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(TransientError):
            await _handle(unreachable, _envelope())
        # Handled together, they fail together: not one connection attempt each in turn.
        results = await asyncio.gather(
            *(_handle(unreachable, _envelope()) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(result, TransientError) for result in results)
    finally:
        unreachable.dispose()
