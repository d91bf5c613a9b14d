#!/usr/bin/env bash
# For whoever bumps the pins in pyproject.toml; not part of CI. Builds a throw-away environment
# with the newest releases the registry offers of the libraries whose private names Percolate
# uses (each listed and checked at start-up: server/wire/seams.py, signaling/transport.py),
# prints which checked name moved, and runs the wire and SFU tests in it.
#   scripts/canary.sh              the newest of every checked library
#   scripts/canary.sh aiortc==1.17.0 ...   particular releases instead (pip requirement specs)
# Exits 0 only if every name is where it was and every test passed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_debian_packages redis-server

libraries=("$@")
[ "${#libraries[@]}" -gt 0 ] \
  || libraries=(python-engineio python-socketio aiohttp wsproto aiortc aioice)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
py="$scratch/venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --upgrade pip
# The project as pinned, then the checked libraries over it: pip warns that they break the
# pins, and installs them all the same (that is the point).
quietly "${pip[@]}" install -e '.[test]' || exit 1
"${pip[@]}" install --upgrade "${libraries[@]}" >"$scratch/upgrade.log" 2>&1 \
  || { cat "$scratch/upgrade.log"; exit 1; }

echo "== Installed"
"$py" -m pip list --disable-pip-version-check 2>/dev/null \
  | grep -iE '^(python-engineio|python-socketio|aiohttp|wsproto|aiortc|aioice) '

echo "== Checked private names"
"$py" - <<'PY'
import sys

from server.wire import seams
from signaling import transport

moved = False
for name, check in (("server/wire/seams.py", seams.check), ("signaling/transport.py", transport.check)):
    try:
        check()
    except Exception as exc:  # each names the library, its version and every name that moved
        moved = True
        print(f"{name}: {exc}")
    else:
        print(f"{name}: every name is where it was")
sys.exit(1 if moved else 0)
PY
names=$?

echo "== Wire and SFU tests"
"$scratch/venv/bin/pytest" -q -p no:cacheprovider \
  tests/test_seams.py tests/test_sequencer.py tests/test_websocket.py tests/test_broadcast.py \
  tests/test_fanout.py tests/test_fuzz.py tests/test_http.py \
  tests/test_sfu.py tests/test_sfu_room.py tests/test_media.py
tests=$?

[ "$names" -eq 0 ] && [ "$tests" -eq 0 ]
