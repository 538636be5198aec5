# PostgreSQL 15 from Debian's packages: a stand-in for postgres:15 where no registry answers,
# honouring what compose gives the official image (POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, PGDATA) and shipping pg_isready for its healthcheck.
ARG BASE_IMAGE=movie-discovery/python:3.11-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY deploy/images/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
EXPOSE 5432
ENTRYPOINT ["postgres-entrypoint"]
