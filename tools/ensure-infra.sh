#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ with this machine's own commands when one is down,
# then wait until each answers. Does nothing to a service that already runs.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
SECURITY_REDIS_PORT=${SECURITY_REDIS_PORT:-6380}
AMQP_PORT=${AMQP_PORT:-5672}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # name, seconds, command...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq 1 "$seconds"); do "$@" && return 0; sleep 1; done
  echo "infra: $name did not come up within ${seconds}s" >&2
  return 1
}

if ! pg_isready -h "$PG_HOST" -q 2>/dev/null; then
  echo "infra: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_for PostgreSQL 60 pg_isready -h "$PG_HOST" -q
fi

if ! port_open "$REDIS_PORT"; then
  echo "infra: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis 30 port_open "$REDIS_PORT"
fi

# Security state (revocations, login throttling) lives in a Redis that never evicts; what it
# holds is rebuilt from PostgreSQL when lost, so it keeps nothing on disk either.
if ! port_open "$SECURITY_REDIS_PORT"; then
  echo "infra: starting the security Redis on :$SECURITY_REDIS_PORT (noeviction)"
  mkdir -p /var/lib/redis-security /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$SECURITY_REDIS_PORT" --save "" \
    --appendonly no --maxmemory-policy noeviction --dir /var/lib/redis-security \
    --logfile /var/log/redis/security.log
  wait_for "security Redis" 30 port_open "$SECURITY_REDIS_PORT"
fi

if ! port_open "$AMQP_PORT"; then
  echo "infra: starting RabbitMQ"
  rabbitmq-server -detached
  wait_for RabbitMQ 120 port_open "$AMQP_PORT"
fi
echo "infra: PostgreSQL, Redis (cache and security) and RabbitMQ are up"
