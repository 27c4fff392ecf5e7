#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the browser tests, when they are missing.
# Without root or apt-get it only says what to do; the browser tests then skip
# (or fail, with BEM_REQUIRE_SERVICES=1).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing chromium and chromium-driver for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "Chromium or ChromeDriver is missing: install them (Debian: apt-get install chromium chromium-driver) to run the browser tests." >&2
fi
