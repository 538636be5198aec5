"""Sandbox settings (env prefix SANDBOX_)."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    data_dir: Path = REPO_ROOT / "data" / "ml-100k"
    port: int = 8090
    # Data days the clock walks per real minute; it wraps around at the end of the data.
    clock_speed: float = 1.0
    # Where the clock starts, in days after the first rating (history for recommendations).
    clock_start_day: float = 60.0
    # When set, requests must carry this key (api_key=... or Authorization: Bearer ...).
    api_key: str | None = None
    # Titles to mark as adult (MovieLens has no such flag), as JSON: SANDBOX_ADULT_IDS=[1681].
    adult_ids: frozenset[int] = frozenset()
