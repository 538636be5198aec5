# Every service's image, from this one file: the service is a build argument. From the
# repository root:
#   docker build -f deploy/docker/service.Dockerfile \
#     --build-arg SERVICE=catalog --build-arg PORT=8002 -t movie-discovery/catalog .
# SERVICE and PORT come from the service registry (shared/shared/services.py); compose passes
# them. BASE_IMAGE is the official Python image; where no registry answers, build a stand-in
# from Debian's packages with deploy/images/build-base.sh and pass its name (deploy/README.md).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG SERVICE
ARG UV_VERSION=0.13.9
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<name>" >&2; exit 1; }
# uv, the release the lock file was written with, in a venv of its own (works on the official
# image and on Debian's Python, which refuses pip installs into the system).
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# The workspace's manifests and the locked versions; only this service's dependencies are
# installed, as regular (not editable) packages.
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
COPY tools/tmdb_sandbox tools/tmdb_sandbox
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable --package "${SERVICE}-service"
# The service's migrations, when it owns a database.
RUN if [ -f "services/${SERVICE}/alembic.ini" ]; then \
        cp "services/${SERVICE}/alembic.ini" /app/alembic.ini \
        && cp -r "services/${SERVICE}/migrations" /app/migrations; \
    fi

FROM ${BASE_IMAGE}
ARG SERVICE
ARG PORT
RUN test -n "$PORT" || { echo "build with --build-arg PORT=<port>" >&2; exit 1; }
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /app /app
COPY deploy/docker/entrypoint.sh /usr/local/bin/entrypoint
# The browser client's static files (the gateway serves them at /; a few tens of KiB).
COPY web /app/web
ENV PATH=/app/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 \
    SERVICE=${SERVICE} APP=${SERVICE}.app:create_app PORT=${PORT} ENVIRONMENT=production \
    GATEWAY_WEB_DIR=/app/web
USER app
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/healthz\", timeout=2)"]
ENTRYPOINT ["entrypoint"]
CMD ["serve"]
