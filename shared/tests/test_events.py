"""The event contracts: what a consumer reads from a user's preferences, whichever producer
version wrote them."""

import uuid

import pytest
from pydantic import ValidationError

from shared.events import NotifyChoices, UserPreferences, UserPreferencesChanged, wrap


def test_preferences_are_read_typed_from_the_json_object_auth_writes() -> None:
    user = uuid.uuid4()
    written = {
        "genres": [18, 35],
        "language": "fr",
        "region": "CA",
        "include_adult": True,
        "remove_watched_from_watchlist": True,
        "providers": [8, 337],
        "notify": {"trending": False, "recommendations": True, "releases": True},
    }
    envelope = wrap(UserPreferencesChanged(user_id=user, preferences=written), producer="auth")
    read = UserPreferencesChanged.model_validate(envelope.data).preferences
    assert read == UserPreferences(
        genres=(18, 35),
        language="fr",
        region="CA",
        include_adult=True,
        remove_watched_from_watchlist=True,
        providers=(8, 337),
        notify=NotifyChoices(trending=False, recommendations=True, releases=True),
    )
    assert envelope.data["preferences"] == written  # the wire format is the same JSON object


def test_fields_added_by_a_newer_producer_are_ignored_and_missing_ones_default() -> None:
    newer = {"genres": [28], "calendar_days": 30, "notify": {"digest": True}}
    read = UserPreferences.model_validate(newer)
    assert read.genres == (28,) and read.notify == NotifyChoices() and read.providers == ()
    assert (read.language, read.region, read.include_adult) == (None, None, False)


@pytest.mark.parametrize(
    "broken", [{"genres": ["drama"]}, {"language": "French"}, {"include_adult": "maybe"}]
)
def test_a_broken_preference_makes_the_event_malformed(broken: dict[str, object]) -> None:
    """Not silently read as a default: the bus dead-letters the event for someone to see."""
    with pytest.raises(ValidationError):
        UserPreferencesChanged.model_validate({"user_id": str(uuid.uuid4()), "preferences": broken})
