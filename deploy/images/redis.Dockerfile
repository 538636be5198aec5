# Redis from Debian's packages: a stand-in for redis:7 where no registry answers (compose
# gives the command line; redis-cli is there for its healthcheck).
ARG BASE_IMAGE=movie-discovery/python:3.11-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /data
RUN chown redis:redis /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
