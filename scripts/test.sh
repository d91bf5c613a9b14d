#!/usr/bin/env bash
# Install everything the tests need (Python packages, redis-server, Chromium, the built web
# client) and run the whole suite: lint, type checks, import contracts, then every test, the browser ones
# (tests/browser/) included. Arguments go to pytest: scripts/test.sh -k chat
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_python
# Debian's Chromium drives the browser tests; Playwright's own browser download is never used.
ensure_debian_packages redis-server postgresql chromium
pip_install -e '.[test]'
build_web
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The layering (pyproject.toml [tool.importlinter]): signaling/ a leaf, the transport libraries
# only in server/wire/, no import circle in server/.
quietly .venv/bin/lint-imports --no-cache
quietly npm --prefix web run typecheck
quietly npm --prefix web run format:check
exec .venv/bin/pytest "$@"
