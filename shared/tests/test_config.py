"""Settings refuse the development secrets anywhere but in development."""

import pytest
from pydantic import ValidationError

from shared.config import DEVELOPMENT_JWT_SECRET, PlatformSettings


def test_development_accepts_the_development_secret() -> None:
    settings = PlatformSettings(environment="development")
    assert settings.jwt_secret == DEVELOPMENT_JWT_SECRET


@pytest.mark.parametrize("environment", ["production", "test"])
def test_development_secret_refused_elsewhere(environment: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        PlatformSettings(environment=environment)


def test_short_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        PlatformSettings(environment="production", jwt_secret="short", internal_secret="i" * 32)


def test_development_internal_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="INTERNAL_SECRET"):
        PlatformSettings(environment="production", jwt_secret="j" * 40)


def test_production_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "j" * 40)
    monkeypatch.setenv("INTERNAL_SECRET", "i" * 32)
    settings = PlatformSettings()
    assert settings.environment == "production"
    assert settings.jwt_secret == "j" * 40
