"""The auth service application."""

from fastapi import FastAPI

from auth.api import router
from auth.config import AuthSettings, settings
from auth.passwords import Passwords, common_passwords
from auth.throttle import LoginThrottle
from shared.app import create_service_app
from shared.runtime import build_runtime


def create_app(app_settings: AuthSettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings)
    app = create_service_app(
        runtime,
        title="Auth service",
        description="Accounts, logins, tokens, profiles and preferences.",
        routers=[router],
    )
    app.state.passwords = Passwords(
        time_cost=app_settings.argon2_time_cost,
        memory_kib=app_settings.argon2_memory_kib,
        parallelism=app_settings.argon2_parallelism,
    )
    app.state.throttle = LoginThrottle(
        redis=runtime.redis,
        failures_per_account=app_settings.login_failures_per_account,
        failures_per_ip=app_settings.login_failures_per_ip,
        window_s=app_settings.login_failure_window_s,
    )
    common_passwords()  # load the list at start-up, not on the first registration
    return app
