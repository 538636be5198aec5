# PostgreSQL 15 managed by Patroni (leader election in etcd, a synchronous standby, pg_rewind
# when a former primary comes back), from Debian's packages (make ha-check).
ARG BASE_IMAGE=movie-discovery/python:3.11-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql-15 patroni python3-etcd \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/patroni && chown postgres:postgres /var/lib/postgresql/patroni
COPY deploy/images/patroni-entrypoint.sh /usr/local/bin/patroni-entrypoint
USER postgres
EXPOSE 5432 8008
ENTRYPOINT ["patroni-entrypoint"]
