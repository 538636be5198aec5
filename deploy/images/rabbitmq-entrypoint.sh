#!/usr/bin/env bash
# The default user from the environment, reachable from other containers; one Erlang cookie
# for the broker and for root (the healthcheck's rabbitmq-diagnostics runs as root); then the
# broker, in the foreground, as the rabbitmq user.
set -euo pipefail
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
loopback_users = none
listeners.tcp.default = 5672
CONF
# A cluster (RABBITMQ_CLUSTER_NODES="rabbit@rabbitmq-1 rabbit@rabbitmq-2 ..."): its nodes find
# each other from that list and share RABBITMQ_ERLANG_COOKIE.
if [ -n "${RABBITMQ_CLUSTER_NODES:-}" ]; then
  echo "cluster_formation.peer_discovery_backend = classic_config" >> /etc/rabbitmq/rabbitmq.conf
  n=0
  for node in $RABBITMQ_CLUSTER_NODES; do
    n=$((n + 1))
    echo "cluster_formation.classic_config.nodes.$n = $node" >> /etc/rabbitmq/rabbitmq.conf
  done
fi
cookie=/var/lib/rabbitmq/.erlang.cookie
if [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]; then
  rm -f "$cookie"
  printf '%s' "$RABBITMQ_ERLANG_COOKIE" > "$cookie"
elif [ ! -s "$cookie" ]; then
  head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$cookie"
fi
cp "$cookie" /root/.erlang.cookie
chmod 400 /root/.erlang.cookie "$cookie"
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
chown rabbitmq:rabbitmq /etc/rabbitmq/rabbitmq.conf
exec runuser -u rabbitmq -- rabbitmq-server
