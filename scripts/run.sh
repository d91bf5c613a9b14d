#!/usr/bin/env bash
# Install Percolate into .venv and run it. Flags are passed on: scripts/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_python
pip_install -e .
build_web
exec .venv/bin/python -m server "$@"
