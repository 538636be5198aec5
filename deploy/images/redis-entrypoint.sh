#!/bin/sh
# As the official image does: a redis-server command line listens everywhere, unprotected.
set -eu
if [ "${1:-}" = "redis-server" ]; then
  shift
  exec redis-server --bind 0.0.0.0 --protected-mode no "$@"
fi
exec "$@"
