#!/bin/sh
# Entry point of every service image.
#   serve (default)  run the service; with MIGRATE_ON_START=true, its migrations first
#   migrate          run the service's migrations and exit (a one-off job or init container)
#   anything else    run that command
# The image sets SERVICE and PORT (and APP, the ASGI factory, for the sandbox).
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
        if [ "$SERVICE" = "sandbox" ]; then
            # The TMDb sandbox, not a service of the product: plain uvicorn.
            exec uvicorn "$APP" --factory --host 0.0.0.0 --port "$PORT" \
                --loop uvloop --http httptools --no-access-log --timeout-graceful-shutdown 2
        fi
        # shared.serve: uvicorn with the service's options, the gateway's trusted proxies
        # (FORWARDED_ALLOW_IPS) and one shutdown deadline (SHUTDOWN_DEADLINE_S, below the
        # orchestrator's grace period).
        exec python -m shared.serve "$SERVICE" --host 0.0.0.0 --port "$PORT"
        ;;
    *)
        exec "$@"
        ;;
esac
