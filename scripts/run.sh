#!/usr/bin/env bash
# Install Percolate into .venv and run it. Flags are passed on: scripts/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_python
.venv/bin/pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/python -m server "$@"
