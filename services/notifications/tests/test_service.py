"""Fan-out, preferences, idempotency and bounded history on the real PostgreSQL."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from notifications import releases, service
from shared.events import UserPreferences
from testsupport.transactions import rows_of, second_waits_for_first

MOVIES = [
    {"id": 1, "title": "Alien", "genre_ids": [27, 878]},
    {"id": 2, "title": "Heat", "genre_ids": [80, 28]},
    {"id": 3, "title": "Up", "genre_ids": [16]},
]


def _subscribe(engine: Engine, preferences: dict | None = None) -> uuid.UUID:  # type: ignore[type-arg]
    user_id = uuid.uuid4()
    with Session(engine) as session:
        service.subscribe(session, user_id=user_id, at=datetime.now(UTC) - timedelta(seconds=5))
        if preferences is not None:
            service.update_preferences(
                session,
                user_id=user_id,
                preferences=UserPreferences.model_validate(preferences),
                at=datetime.now(UTC),
            )
        session.commit()
    return user_id


def _fan_out(engine: Engine, event_id: uuid.UUID, keep: int = 200) -> list[service.Delivered]:
    with Session(engine) as session:
        delivered = service.fan_out_trending(
            session, event_id=event_id, refreshed_at=datetime.now(UTC), movies=MOVIES, keep=keep
        )
        session.commit()
    return delivered


def test_fan_out_follows_genres_and_opt_outs(notifications_engine: Engine) -> None:
    everyone = _subscribe(notifications_engine)
    scifi = _subscribe(notifications_engine, {"genres": [878], "notify": {"trending": True}})
    action_or_animation = _subscribe(notifications_engine, {"genres": [28, 16]})
    quiet = _subscribe(notifications_engine, {"notify": {"trending": False}})
    nothing_matches = _subscribe(notifications_engine, {"genres": [99]})
    delivered = {
        d.user_id: orjson.loads(d.payload) for d in _fan_out(notifications_engine, uuid.uuid4())
    }
    assert set(delivered) == {everyone, scifi, action_or_animation}
    assert delivered[everyone]["movie_ids"] == [1, 2, 3]
    assert delivered[everyone]["body"] == "Alien, Heat and 1 more entered trending this week"
    assert delivered[scifi]["movie_ids"] == [1]
    assert delivered[scifi]["body"] == "Alien entered trending this week"
    assert delivered[action_or_animation]["body"] == "Heat and Up entered trending this week"
    assert quiet not in delivered and nothing_matches not in delivered


def test_the_same_event_fans_out_once(notifications_engine: Engine) -> None:
    _subscribe(notifications_engine)
    event_id = uuid.uuid4()
    assert len(_fan_out(notifications_engine, event_id)) == 1
    assert _fan_out(notifications_engine, event_id) == []
    with notifications_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM notification")).scalar_one() == 1


def test_history_is_bounded_per_user(notifications_engine: Engine) -> None:
    user = _subscribe(notifications_engine)
    for _ in range(5):
        _fan_out(notifications_engine, uuid.uuid4(), keep=3)
    with Session(notifications_engine) as session:
        rows, total = service.page(session, user_id=user, unread_only=False, page=1, limit=10)
    assert total == 3 and len(rows) == 3


def test_read_marking_and_resume(notifications_engine: Engine) -> None:
    user, other = _subscribe(notifications_engine), _subscribe(notifications_engine)
    delivered = _fan_out(notifications_engine, uuid.uuid4())
    mine = next(d for d in delivered if d.user_id == user)
    notification_id = uuid.UUID(orjson.loads(mine.payload)["id"])
    with Session(notifications_engine) as session:
        assert not service.mark_read(session, user_id=other, notification_id=notification_id)
        assert service.mark_read(session, user_id=user, notification_id=notification_id)
        assert service.page(session, user_id=user, unread_only=True, page=1, limit=10)[1] == 0
        assert [n.seq for n in service.since(session, user_id=user, after_seq=0)] == [mine.seq]
        assert service.since(session, user_id=user, after_seq=mine.seq) == []


def test_recommendations_notice_respects_the_flag(notifications_engine: Engine) -> None:
    wants = _subscribe(notifications_engine)
    declines = _subscribe(notifications_engine, {"notify": {"recommendations": False}})
    with Session(notifications_engine) as session:
        for user in (wants, declines):
            written = service.notify_recommendations(
                session, event_id=uuid.uuid4(), user_id=user, movies=MOVIES[:1], keep=200
            )
            assert len(written) == (1 if user == wants else 0)
        session.commit()


def test_older_preferences_do_not_win(notifications_engine: Engine) -> None:
    user = _subscribe(notifications_engine, {"genres": [878]})
    with Session(notifications_engine) as session:
        service.update_preferences(
            session,
            user_id=user,
            preferences=UserPreferences(genres=(16,)),
            at=datetime.now(UTC) - timedelta(hours=1),
        )
        session.commit()
    delivered = {
        d.user_id: orjson.loads(d.payload) for d in _fan_out(notifications_engine, uuid.uuid4())
    }
    assert delivered[user]["movie_ids"] == [1]


def _refresh(engine: Engine, refreshed_at: datetime) -> tuple[uuid.UUID, list[service.Delivered]]:
    """As the handler does: remember the refresh, then fan it out."""
    event_id = uuid.uuid4()
    with Session(engine) as session:
        service.remember_refresh(
            session, event_id=event_id, refreshed_at=refreshed_at, movies=MOVIES
        )
        delivered = service.fan_out_trending(
            session, event_id=event_id, refreshed_at=refreshed_at, movies=MOVIES, keep=200
        )
        session.commit()
    return event_id, delivered


def _register(engine: Engine, user_id: uuid.UUID, at: datetime) -> list[service.Delivered]:
    """As the handler does: subscribe, then catch up."""
    with Session(engine) as session:
        service.subscribe(session, user_id=user_id, at=at)
        delivered = service.catch_up(session, user_id=user_id, keep=200)
        session.commit()
    return delivered


def test_a_registration_that_arrives_after_the_refresh_still_gets_it(
    notifications_engine: Engine,
) -> None:
    """Registration and refresh travel through different outboxes: the refresh may be handled
    first. The user registered before it, so it is theirs all the same, and only once."""
    now = datetime.now(UTC)
    user = uuid.uuid4()
    _, delivered = _refresh(notifications_engine, refreshed_at=now)
    assert user not in {d.user_id for d in delivered}  # not known yet
    caught_up = _register(notifications_engine, user, at=now - timedelta(seconds=2))
    assert [orjson.loads(d.payload)["movie_ids"] for d in caught_up] == [[1, 2, 3]]
    assert _register(notifications_engine, user, at=now - timedelta(seconds=2)) == []
    with Session(notifications_engine) as session:
        assert service.page(session, user_id=user, unread_only=False, page=1, limit=10)[1] == 1


def test_refreshes_before_the_registration_are_not_theirs(notifications_engine: Engine) -> None:
    now = datetime.now(UTC)
    _refresh(notifications_engine, refreshed_at=now - timedelta(minutes=1))
    user = uuid.uuid4()
    assert _register(notifications_engine, user, at=now) == []
    _, delivered = _refresh(notifications_engine, refreshed_at=now - timedelta(seconds=30))
    assert user not in {d.user_id for d in delivered}  # handled late, but from before
    _, delivered = _refresh(notifications_engine, refreshed_at=now + timedelta(seconds=1))
    assert user in {d.user_id for d in delivered}


def test_preferences_that_arrive_before_the_registration_keep_the_registration_time(
    notifications_engine: Engine,
) -> None:
    now = datetime.now(UTC)
    user = uuid.uuid4()
    with Session(notifications_engine) as session:
        service.update_preferences(
            session,
            user_id=user,
            preferences=UserPreferences(genres=(16,)),
            at=now + timedelta(seconds=5),
        )
        session.commit()
    _, delivered = _refresh(notifications_engine, refreshed_at=now + timedelta(seconds=1))
    assert user not in {d.user_id for d in delivered}  # known only from a later change
    caught_up = _register(notifications_engine, user, at=now)
    assert [orjson.loads(d.payload)["movie_ids"] for d in caught_up] == [[3]]  # their genre


# Each way a notification is written, as the first of two transactions writing to one user.
def _trending_for(session: Session, user: uuid.UUID) -> list[service.Delivered]:
    return service.fan_out_trending(
        session, event_id=uuid.uuid4(), refreshed_at=datetime.now(UTC), movies=MOVIES, keep=200
    )


def _picks_for(session: Session, user: uuid.UUID) -> list[service.Delivered]:
    return service.notify_recommendations(
        session, event_id=uuid.uuid4(), user_id=user, movies=MOVIES[:1], keep=200
    )


def _import_for(session: Session, user: uuid.UUID) -> list[service.Delivered]:
    return service.import_finished(
        session, event_id=uuid.uuid4(), user_id=user, source="imdb", succeeded=True,
        matched=3, unmatched=0, keep=200,
    )  # fmt: skip


def _release_for(session: Session, user: uuid.UUID) -> list[service.Delivered]:
    service.update_preferences(
        session,
        user_id=user,
        preferences=UserPreferences.model_validate({"notify": {"releases": True}}),
        at=datetime.now(UTC),
    )
    releases.watchlisted(
        session, user_id=user, movie_id=11, at=datetime.now(UTC) - timedelta(days=1)
    )
    return releases.fan_out(
        session, event_id=uuid.uuid4(), movie_id=11, title="Star Wars", titles={},
        region="US", kind="theatrical", provider_id=None, provider_name=None,
        observed_at=datetime.now(UTC), keep=200,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (_trending_for, _import_for),
        (_picks_for, _import_for),
        (_release_for, _import_for),
        (_import_for, _trending_for),
        (_import_for, _picks_for),
    ],
)
def test_a_users_notifications_become_visible_in_the_order_of_their_seqs(
    notifications_engine: Engine,
    first: Callable[[Session, uuid.UUID], list[service.Delivered]],
    second: Callable[[Session, uuid.UUID], list[service.Delivered]],
) -> None:
    """A second transaction writing to a user waits for the first: were it to commit first, a
    stream that sent its seq would never send the first's lower one, nor would a resume."""
    user = _subscribe(notifications_engine)
    written_first: list[service.Delivered] = []

    def write_first(session: Session) -> None:
        written_first.extend(d for d in first(session, user) if d.user_id == user)

    def nothing_visible_yet() -> None:
        with Session(notifications_engine) as reader:
            assert service.since(reader, user_id=user, after_seq=0) == []

    written_second = second_waits_for_first(
        notifications_engine,
        write_first,
        lambda session: second(session, user),
        meanwhile=nothing_visible_yet,
    )
    assert len(written_first) == 1
    assert [d.seq for d in written_second] > [d.seq for d in written_first]
    with Session(notifications_engine) as reader:
        assert [n.seq for n in service.since(reader, user_id=user, after_seq=0)] == [
            written_first[0].seq,
            written_second[0].seq,
        ]


@pytest.mark.parametrize("late", [_trending_for, _picks_for, _import_for])
def test_nothing_is_written_for_a_deleted_account_whatever_comes_late(
    notifications_engine: Engine,
    late: Callable[[Session, uuid.UUID], list[service.Delivered]],
) -> None:
    user = _subscribe(notifications_engine)
    with Session(notifications_engine) as session:
        _import_for(session, user)
        session.commit()
        service.forget(session, user_id=user)
        session.commit()
        assert [d for d in late(session, user) if d.user_id == user] == []
        session.commit()
    assert rows_of(notifications_engine, "notification", user) == 0
    assert rows_of(notifications_engine, "subscriber", user) == 0


def test_a_deletion_waits_for_a_notification_being_written_and_takes_it_too(
    notifications_engine: Engine,
) -> None:
    """A fan-out that read the user as a subscriber just before the deletion: the deletion
    waits for its turn, so what the fan-out wrote goes with the rest."""
    user = _subscribe(notifications_engine)
    second_waits_for_first(
        notifications_engine,
        lambda session: _trending_for(session, user),
        lambda session: service.forget(session, user_id=user),
    )
    assert rows_of(notifications_engine, "notification", user) == 0


def test_what_comes_after_a_deletion_does_not_bring_the_user_back(
    notifications_engine: Engine,
) -> None:
    """Events of a deleted user that come late (they travel apart, from other producers, or
    were handled by another replica) leave nothing: no subscription, preferences or
    watchlist copy."""
    user = _subscribe(notifications_engine)
    with Session(notifications_engine) as session:
        service.forget(session, user_id=user)
        session.commit()
        later = datetime.now(UTC) + timedelta(seconds=1)
        service.subscribe(session, user_id=user, at=later)
        service.update_preferences(
            session, user_id=user, preferences=UserPreferences(genres=(18,)), at=later
        )
        releases.watchlisted(session, user_id=user, movie_id=11, at=later)
        session.commit()
    for table in ("subscriber", "watchlisted", "notification"):
        assert rows_of(notifications_engine, table, user) == 0, table


def test_a_change_that_meets_a_deletion_under_way_waits_for_it_and_writes_nothing(
    notifications_engine: Engine,
) -> None:
    user = _subscribe(notifications_engine)
    second_waits_for_first(
        notifications_engine,
        lambda session: service.forget(session, user_id=user),
        lambda session: service.update_preferences(
            session,
            user_id=user,
            preferences=UserPreferences(genres=(18,)),
            at=datetime.now(UTC) + timedelta(seconds=1),
        ),
    )
    assert rows_of(notifications_engine, "subscriber", user) == 0
