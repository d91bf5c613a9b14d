#!/usr/bin/env bash
# Install everything the tests need (Python packages, redis-server) and run the whole suite:
# lint, type checks, then every test. Arguments go to pytest: scripts/test.sh -k chat
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_python
ensure_debian_packages redis-server
pip_install -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
