#!/usr/bin/env bash
# Regenerate docs/screenshots/*.png (lobby, coffee room, phone, speed networking's invitation,
# a table, a conversation, the Reports panel) from a server of their own and headless Chromium
# with a fake camera and an emoji font (for reactions). Installs what it needs, as test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_python
ensure_debian_packages chromium fonts-noto-color-emoji  # reactions are emoji
pip_install -e '.[test]'
build_web
exec .venv/bin/python -m tests.browser.screenshots docs/screenshots
