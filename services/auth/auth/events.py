"""What the auth service publishes (through its outbox)."""

from shared.events import (
    SessionRevoked,
    UserDeleted,
    UserPasswordChanged,
    UserPreferencesChanged,
    UserRegistered,
)

PRODUCER = "auth"
PUBLISHES = (
    UserRegistered,
    UserPreferencesChanged,
    SessionRevoked,
    UserPasswordChanged,
    UserDeleted,
)
