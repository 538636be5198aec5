# Redis from Debian's packages: a stand-in for redis:7 where no registry answers. Like the
# official image, it listens on every interface without protected mode (the compose network
# is its only way in), whatever command line compose gives it; redis-cli is there for the
# healthcheck.
ARG BASE_IMAGE=movie-discovery/python:3.11-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/images/redis-entrypoint.sh /usr/local/bin/redis-entrypoint
WORKDIR /data
RUN chown redis:redis /data
USER redis
EXPOSE 6379
ENTRYPOINT ["redis-entrypoint"]
CMD ["redis-server"]
