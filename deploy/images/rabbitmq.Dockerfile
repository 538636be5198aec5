# RabbitMQ from Debian's packages, with the management and Prometheus plugins: a stand-in for
# rabbitmq:3.13-management where no registry answers. RABBITMQ_DEFAULT_USER / _PASS as the
# official image takes them; compose mounts enabled_plugins.
ARG BASE_IMAGE=movie-discovery/python:3.11-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/images/rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
EXPOSE 5672 15672 15692
ENTRYPOINT ["rabbitmq-entrypoint"]
