"""A user's own lists: create, read, change, delete; items added, removed and reordered,
kept in positions 1..n. No HTTP here; a refusal is a ProblemError with the status the
contract gives it.

Every change to a list's items holds the list's row (FOR UPDATE): positions and the item
count stay whole when two requests change one list at once. Items carry an event each
(`list.item_added`, `list.item_removed`), so the recommendations service takes a listed title
as a weak taste signal."""

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from library.events import PRODUCER
from library.reviews.models import UserDirectoryEntry
from library.user_lists.models import (
    MAX_ITEMS_PER_LIST,
    MAX_LISTS_PER_USER,
    ListItem,
    ListPublic,
    Owner,
    UserList,
)
from shared.db import user_lock, utcnow
from shared.errors import ProblemError
from shared.events import ListItemAdded, ListItemRemoved
from shared.outbox import add_event

# Creating lists is serialised per user so the limit holds (not the user's deletion lock).
_HOLD_USERS_LISTS = user_lock(7402)
NOT_FOUND = "No such list, or it is private"


class Item(NamedTuple):
    movie_id: int
    position: int
    note: str | None
    added_at: datetime


def create(
    session: Session, *, user_id: uuid.UUID, name: str, description: str | None, public: bool
) -> ListPublic:
    """A new, empty list; 409 if the user has one of that name, 403 past the limit."""
    session.execute(_HOLD_USERS_LISTS, {"user_id": str(user_id)})
    count = session.scalar(
        select(func.count()).select_from(UserList).where(col(UserList.user_id) == user_id)
    )
    if (count or 0) >= MAX_LISTS_PER_USER:
        session.rollback()
        raise ProblemError(403, f"You have {MAX_LISTS_PER_USER} lists, the most there can be")
    now = utcnow()
    row = UserList(
        user_id=user_id,
        name=name.strip(),
        description=description,
        public=public,
        item_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    _flush_named(session)
    shown = _public(session, row)
    session.commit()
    return shown


def visible(session: Session, *, list_id: uuid.UUID, viewer: uuid.UUID | None) -> ListPublic:
    """The list, if the viewer may see it (theirs, or public); 404 otherwise."""
    try:
        row = session.get(UserList, list_id)
        if row is None or (not row.public and row.user_id != viewer):
            raise ProblemError(404, NOT_FOUND)
        return _public(session, row)
    finally:
        session.rollback()


def _owned(session: Session, *, list_id: uuid.UUID, user_id: uuid.UUID) -> UserList:
    """The user's list, its row held for the change; 404 unseen, 403 someone else's."""
    row = session.get(UserList, list_id, with_for_update=True)
    if row is None or (not row.public and row.user_id != user_id):
        session.rollback()
        raise ProblemError(404, NOT_FOUND)
    if row.user_id != user_id:
        session.rollback()
        raise ProblemError(403, "This list is someone else's")
    return row


def change(
    session: Session, *, list_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, object]
) -> ListPublic:
    """Rename it, describe it, make it public or private (the fields given)."""
    row = _owned(session, list_id=list_id, user_id=user_id)
    for field, value in changes.items():
        setattr(row, field, value.strip() if field == "name" and isinstance(value, str) else value)
    row.updated_at = utcnow()
    session.add(row)
    _flush_named(session)
    shown = _public(session, row)
    session.commit()
    return shown


def remove(session: Session, *, list_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Delete the list and its items, each item's removal announced."""
    _owned(session, list_id=list_id, user_id=user_id)
    movie_ids = session.scalars(
        select(col(ListItem.movie_id)).where(col(ListItem.list_id) == list_id)
    ).all()
    session.execute(delete(UserList).where(col(UserList.id) == list_id))
    _announce_removed(session, user_id=user_id, list_id=list_id, movie_ids=list(movie_ids))
    session.commit()


def mine(
    session: Session, *, user_id: uuid.UUID, public_only: bool, page: int, limit: int
) -> tuple[list[ListPublic], int]:
    """One page of a user's lists, newest first (only their public ones for others)."""
    try:
        conditions = [col(UserList.user_id) == user_id]
        if public_only:
            conditions.append(col(UserList.public).is_(True))
        total = session.scalar(select(func.count()).select_from(UserList).where(*conditions))
        rows = session.scalars(
            select(UserList)
            .where(*conditions)
            .order_by(col(UserList.created_at).desc(), col(UserList.id))
            .offset((page - 1) * limit)
            .limit(limit)
        ).all()
        owner = Owner(id=user_id, display_name=_display_name(session, user_id))
        return [_public(session, row, owner) for row in rows], int(total or 0)
    finally:
        session.rollback()


def known_user(session: Session, *, user_id: uuid.UUID) -> bool:
    """Whether the library knows this user (from auth's events, or their lists)."""
    try:
        return (
            session.get(UserDirectoryEntry, user_id) is not None
            or session.scalar(select(col(UserList.id)).where(col(UserList.user_id) == user_id))
            is not None
        )
    finally:
        session.rollback()


def items(session: Session, *, list_id: uuid.UUID, page: int, limit: int) -> tuple[list[Item], int]:
    """One page of the list's items, in list order, and how many there are."""
    try:
        total = session.scalar(select(col(UserList.item_count)).where(col(UserList.id) == list_id))
        rows = session.execute(
            select(
                col(ListItem.movie_id),
                col(ListItem.position),
                col(ListItem.note),
                col(ListItem.added_at),
            )
            .where(col(ListItem.list_id) == list_id)
            .order_by(col(ListItem.position))
            .offset((page - 1) * limit)
            .limit(limit)
        ).all()
        return [Item(*row) for row in rows], int(total or 0)
    finally:
        session.rollback()


def all_items(session: Session, *, list_id: uuid.UUID) -> list[Item]:
    """Every item, in list order (for the CSV)."""
    return items(session, list_id=list_id, page=1, limit=MAX_ITEMS_PER_LIST)[0]


def add_item(
    session: Session,
    *,
    list_id: uuid.UUID,
    user_id: uuid.UUID,
    movie_id: int,
    note: str | None,
    position: int | None,
    added_at: datetime | None = None,
) -> tuple[Item, bool]:
    """Put a title on the list at `position` (the end without one); (the item, False) if it
    is there already, unchanged. 403 past the limit."""
    row = _owned(session, list_id=list_id, user_id=user_id)
    existing = session.get(ListItem, (list_id, movie_id))
    if existing is not None:
        kept = Item(existing.movie_id, existing.position, existing.note, existing.added_at)
        session.rollback()
        return kept, False
    if row.item_count >= MAX_ITEMS_PER_LIST:
        session.rollback()
        raise ProblemError(403, f"This list has {MAX_ITEMS_PER_LIST} titles, the most it can")
    item = insert_item(
        session, row, movie_id=movie_id, note=note, position=position, added_at=added_at
    )
    session.commit()
    return item, True


def insert_item(
    session: Session,
    row: UserList,
    *,
    movie_id: int,
    note: str | None,
    position: int | None,
    added_at: datetime | None,
) -> Item:
    """Put a title that is not on it on a list whose row the caller holds, with its event
    (not committed; the caller checked the limit)."""
    at = min(position or row.item_count + 1, row.item_count + 1)
    if at <= row.item_count:
        session.execute(
            update(ListItem)
            .where(col(ListItem.list_id) == row.id, col(ListItem.position) >= at)
            .values(position=col(ListItem.position) + 1)
        )
    now = utcnow()
    session.add(
        ListItem(
            list_id=row.id,
            movie_id=movie_id,
            user_id=row.user_id,
            position=at,
            note=note,
            added_at=added_at or now,
        )
    )
    row.item_count += 1
    row.updated_at = now
    session.add(row)
    add_event(
        session,
        ListItemAdded(user_id=row.user_id, list_id=row.id, movie_id=movie_id, at=added_at or now),
        producer=PRODUCER,
    )
    return Item(movie_id, at, note, added_at or now)


def named(
    session: Session, *, user_id: uuid.UUID, name: str, description: str | None
) -> tuple[UserList | None, bool]:
    """The user's list of this name (any case), held for a change, made if there is none and
    the user has room for it: (the list or None when full of lists, whether it was made).
    Not committed."""
    session.execute(_HOLD_USERS_LISTS, {"user_id": str(user_id)})
    found = session.scalars(
        select(UserList)
        .where(col(UserList.user_id) == user_id, func.lower(col(UserList.name)) == name.lower())
        .with_for_update()
    ).first()
    if found is not None:
        return found, False
    count = session.scalar(
        select(func.count()).select_from(UserList).where(col(UserList.user_id) == user_id)
    )
    if (count or 0) >= MAX_LISTS_PER_USER:
        return None, False
    now = utcnow()
    made = UserList(
        user_id=user_id,
        name=name.strip() or "Imported",
        description=description,
        public=False,
        item_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(made)
    session.flush()
    return made, True


def remove_item(session: Session, *, list_id: uuid.UUID, user_id: uuid.UUID, movie_id: int) -> bool:
    """Take a title off the list; False if it was not on it."""
    row = _owned(session, list_id=list_id, user_id=user_id)
    position = session.scalar(
        delete(ListItem)
        .where(col(ListItem.list_id) == list_id, col(ListItem.movie_id) == movie_id)
        .returning(col(ListItem.position))
    )
    if position is None:
        session.rollback()
        return False
    session.execute(
        update(ListItem)
        .where(col(ListItem.list_id) == list_id, col(ListItem.position) > position)
        .values(position=col(ListItem.position) - 1)
    )
    row.item_count -= 1
    row.updated_at = utcnow()
    session.add(row)
    _announce_removed(session, user_id=user_id, list_id=list_id, movie_ids=[movie_id])
    session.commit()
    return True


def reorder(
    session: Session, *, list_id: uuid.UUID, user_id: uuid.UUID, movie_ids: list[int]
) -> ListPublic:
    """Put the list in this order; 422 naming what is missing, extra or twice."""
    row = _owned(session, list_id=list_id, user_id=user_id)
    held = set(
        session.scalars(select(col(ListItem.movie_id)).where(col(ListItem.list_id) == list_id))
    )
    given = set(movie_ids)
    problems = []
    if missing := sorted(held - given):
        problems.append(f"missing {_ids(missing)}")
    if extra := sorted(given - held):
        problems.append(f"not on the list {_ids(extra)}")
    if len(given) != len(movie_ids):
        problems.append("a title given twice")
    if problems:
        session.rollback()
        raise ProblemError(
            422, "The order must name each title of the list once: " + "; ".join(problems)
        )
    session.execute(
        text(
            "UPDATE list_item SET position = o.position FROM unnest(CAST(:ids AS int[])) "
            "WITH ORDINALITY AS o(movie_id, position) "
            "WHERE list_item.list_id = :list_id AND list_item.movie_id = o.movie_id"
        ),
        {"ids": movie_ids, "list_id": list_id},
    )
    row.updated_at = utcnow()
    session.add(row)
    shown = _public(session, row)
    session.commit()
    return shown


def lists_holding(session: Session, *, user_id: uuid.UUID, movie_id: int) -> list[uuid.UUID]:
    """The user's lists that hold this title (in the caller's transaction)."""
    return list(
        session.scalars(
            select(col(ListItem.list_id))
            .where(col(ListItem.user_id) == user_id, col(ListItem.movie_id) == movie_id)
            .order_by(col(ListItem.list_id))
        )
    )


def forget(session: Session, *, user_id: uuid.UUID) -> None:
    """A deleted account's lists go (their items with them), in the caller's transaction."""
    session.execute(delete(UserList).where(col(UserList.user_id) == user_id))


def _announce_removed(
    session: Session, *, user_id: uuid.UUID, list_id: uuid.UUID, movie_ids: list[int]
) -> None:
    if not movie_ids:
        return
    still = set(
        session.scalars(
            select(col(ListItem.movie_id)).where(
                col(ListItem.user_id) == user_id,
                col(ListItem.movie_id).in_(movie_ids),
                col(ListItem.list_id) != list_id,
            )
        )
    )
    now = utcnow()
    for movie_id in movie_ids:
        add_event(
            session,
            ListItemRemoved(
                user_id=user_id,
                list_id=list_id,
                movie_id=movie_id,
                still_listed=movie_id in still,
                at=now,
            ),
            producer=PRODUCER,
        )


def _flush_named(session: Session) -> None:
    """Write the list's row; 409 when its name is one the user has already."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if "uq_user_list_user_name" in str(exc.orig):
            raise ProblemError(409, "You have a list of that name already") from exc
        raise


def _public(session: Session, row: UserList, owner: Owner | None = None) -> ListPublic:
    return ListPublic(
        id=row.id,
        owner=owner or Owner(id=row.user_id, display_name=_display_name(session, row.user_id)),
        name=row.name,
        description=row.description,
        public=row.public,
        item_count=row.item_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _display_name(session: Session, user_id: uuid.UUID) -> str | None:
    entry = session.get(UserDirectoryEntry, user_id)
    return entry.display_name if entry else None


def _ids(movie_ids: list[int]) -> str:
    shown = ", ".join(map(str, movie_ids[:20]))
    return shown + (f" and {len(movie_ids) - 20} more" if len(movie_ids) > 20 else "")
