"""The auth service application."""

from fastapi import FastAPI

from auth.api import router
from auth.config import AuthSettings, settings
from auth.events import PUBLISHES
from auth.export import AccountExporter
from auth.passwords import Passwords, common_passwords
from auth.revocations import RevocationCopy
from auth.throttle import LoginThrottle
from shared.app import create_service_app
from shared.redis import make_sync_redis
from shared.runtime import Runtime, build_runtime


def create_app(app_settings: AuthSettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings, publishes=PUBLISHES, needs_security_redis=True)
    app = create_service_app(
        runtime,
        title="Auth service",
        description="Accounts, logins, tokens, profiles and preferences; the account's export "
        "and deletion.",
        routers=[router],
    )
    app.state.passwords = Passwords(
        time_cost=app_settings.argon2_time_cost,
        memory_kib=app_settings.argon2_memory_kib,
        parallelism=app_settings.argon2_parallelism,
    )
    exporter = AccountExporter(
        urls=app_settings.user_data_urls(),
        internal_secret=app_settings.internal_secret,
        timeout_s=app_settings.export_timeout_s,
    )
    app.state.exporter = exporter
    revocations = RevocationCopy(make_sync_redis(app_settings.security_redis))
    revocations.replicas = app_settings.revocation_replicas
    app.state.revocations = revocations

    async def keep_copy_whole(runtime: Runtime) -> None:
        assert runtime.engine is not None
        runtime.spawn(revocations.keep_whole(runtime.engine), name="revocation-copy")

    async def close_clients(_: Runtime) -> None:
        revocations.redis.close()
        await exporter.close()

    runtime.on_start.append(keep_copy_whole)
    runtime.on_stop.append(close_clients)
    app.state.throttle = LoginThrottle(
        redis=runtime.security_redis,
        failures_per_account=app_settings.login_failures_per_account,
        failures_per_ip=app_settings.login_failures_per_ip,
        window_s=app_settings.login_failure_window_s,
    )
    common_passwords()  # load the list at start-up, not on the first registration
    return app
