#!/usr/bin/env bash
# Patroni's configuration from the environment (PATRONI_NAME, PATRONI_ADDRESS, PG_SUPERUSER_PASSWORD,
# PG_REPLICATION_PASSWORD, APP_USER, APP_PASSWORD, ETCD_HOSTS), then Patroni in the
# foreground. The first node to take the leader key in etcd initialises the cluster and creates
# the application's role; the other one clones it and follows as the synchronous standby.
set -euo pipefail
name=${PATRONI_NAME:?}
address=${PATRONI_ADDRESS:-$name}  # where the others reach it
cat > /tmp/post-bootstrap.sh <<SCRIPT
#!/usr/bin/env bash
psql "\$1" -v ON_ERROR_STOP=1 -c "CREATE ROLE ${APP_USER:?} LOGIN CREATEDB PASSWORD '${APP_PASSWORD:?}'"
SCRIPT
chmod 700 /tmp/post-bootstrap.sh
cat > /tmp/patroni.yml <<YAML
scope: movies
namespace: /service/
name: ${name}
restapi:
  listen: 0.0.0.0:8008
  connect_address: ${address}:8008
etcd3:
  hosts: ${ETCD_HOSTS:-etcd:2379}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 400
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host replication replicator 0.0.0.0/0 scram-sha-256
    - host all all 0.0.0.0/0 scram-sha-256
  post_bootstrap: /tmp/post-bootstrap.sh
postgresql:
  listen: 0.0.0.0:5432
  connect_address: ${address}:5432
  data_dir: /var/lib/postgresql/patroni/data
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: /tmp/pgpass
  authentication:
    superuser: {username: postgres, password: "${PG_SUPERUSER_PASSWORD:?}"}
    replication: {username: replicator, password: "${PG_REPLICATION_PASSWORD:?}"}
    rewind: {username: postgres, password: "${PG_SUPERUSER_PASSWORD:?}"}
  parameters:
    unix_socket_directories: /tmp
YAML
exec patroni /tmp/patroni.yml
