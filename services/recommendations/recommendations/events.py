"""What the recommendations service publishes (through its outbox)."""

from shared.events import RecommendationsUpdated

PUBLISHES = (RecommendationsUpdated,)
