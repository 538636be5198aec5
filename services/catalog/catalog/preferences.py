"""Which users allow adult titles: a read model kept from `user.preferences_changed` events."""

import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

ADULT_USERS_KEY = "catalog:adult-users"


async def set_allows_adult(redis: Redis, user_id: uuid.UUID, allowed: bool) -> None:
    if allowed:
        await redis.sadd(ADULT_USERS_KEY, str(user_id))
    else:
        await redis.srem(ADULT_USERS_KEY, str(user_id))


async def allows_adult(redis: Redis, user_id: uuid.UUID | None) -> bool:
    """Anonymous users, and everyone while Redis is down, get the safe default."""
    if user_id is None:
        return False
    try:
        return bool(await redis.sismember(ADULT_USERS_KEY, str(user_id)))
    except RedisError:
        return False
