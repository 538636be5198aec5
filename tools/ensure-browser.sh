#!/usr/bin/env bash
# Debian's headless Chromium and its driver, for the web client's browser tests: installed
# from Debian's packages when missing (a browser download by Selenium or Playwright cannot
# work offline). Does nothing when both are there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
echo "setup: installing Debian's chromium and chromium-driver for the browser tests"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: not root; install them by hand: apt-get install chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
echo "setup: $(chromium --version)"
