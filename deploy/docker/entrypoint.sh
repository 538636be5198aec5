#!/bin/sh
# Entry point of every service image.
#   serve (default)  run the service; with MIGRATE_ON_START=true, its migrations first
#   migrate          run the service's migrations and exit (a one-off job or init container)
#   anything else    run that command
# The image sets SERVICE, APP (the ASGI factory) and PORT.
set -eu

migrate() {
    if [ -f /app/alembic.ini ]; then
        python -m shared.migrations /app "$SERVICE"
    else
        echo "migrations: $SERVICE has no database"
    fi
}

case "${1:-serve}" in
    migrate)
        migrate
        ;;
    serve)
        if [ "${MIGRATE_ON_START:-false}" = "true" ]; then
            migrate
        fi
        # Only the gateway reads X-Forwarded-For, and only from the proxies FORWARDED_ALLOW_IPS
        # names (the ingress); otherwise a client could choose the address it is limited by.
        proxy="--no-proxy-headers"
        case "$APP" in
            gateway.*)
                if [ -n "${FORWARDED_ALLOW_IPS:-}" ]; then
                    proxy="--proxy-headers --forwarded-allow-ips=$FORWARDED_ALLOW_IPS"
                fi
                ;;
        esac
        # shellcheck disable=SC2086
        exec uvicorn "$APP" --factory --host 0.0.0.0 --port "$PORT" \
            --loop uvloop --http httptools --no-access-log $proxy \
            --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_S:-10}"
        ;;
    *)
        exec "$@"
        ;;
esac
