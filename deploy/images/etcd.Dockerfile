# etcd from Debian's packages: the store Patroni keeps the PostgreSQL cluster's leader in
# (make ha-check). One member is enough to prove failover of PostgreSQL; production runs three.
ARG BASE_IMAGE=movie-discovery/python:3.11-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends etcd-server \
    && rm -rf /var/lib/apt/lists/*
EXPOSE 2379 2380
ENTRYPOINT ["etcd"]
