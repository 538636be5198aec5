#!/usr/bin/env bash
# Base images from Debian's packages, for machines where no image registry answers.
#
#   deploy/images/build-base.sh            # builds movie-discovery/python:3.11-bookworm
#
# The service Dockerfile takes its base as a build argument (BASE_IMAGE, python:3.11-slim by
# default); where python:3.11-slim cannot be pulled, this script makes a stand-in from a
# minimal Debian bookworm (debootstrap) with Python 3.11, pip and venv, and imports it into
# the local Docker engine. The machine's CA bundle is copied in, so builds inside it reach
# the package indexes the machine itself reaches. Nothing is pushed anywhere.
set -euo pipefail

IMAGE=${BASE_IMAGE_NAME:-movie-discovery/python:3.11-bookworm}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}

if $DOCKER image inspect "$IMAGE" >/dev/null 2>&1 && [ -z "${REBUILD:-}" ]; then
  echo "images: $IMAGE is there already (REBUILD=1 to make it again)"
  exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "images: debootstrap $SUITE into $root"
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates,curl \
  "$SUITE" "$root" "$MIRROR" >/dev/null
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
ln -sf python3 "$root/usr/bin/python"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
echo "images: importing $IMAGE"
tar -C "$root" -c . | $DOCKER import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null
echo "images: $IMAGE is ready"
