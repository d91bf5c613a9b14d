# Shared by run.sh and test.sh: install what is missing, and nothing that is there already.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_python() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv 2>/dev/null || {
      ensure_debian_packages python3-venv
      rm -rf .venv
      python3 -m venv .venv
    }
    .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  fi
}

pip_install() {
  # Quiet unless it fails: setuptools chatters about editable installs.
  if ! .venv/bin/pip install --quiet --disable-pip-version-check "$@" >.venv/pip.log 2>&1; then
    cat .venv/pip.log
    return 1
  fi
}

quietly() {
  # Run a command, showing its output only if it fails.
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log"
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

build_web() {
  # The browser client: web/dist/app.js and app.css, served at /assets/. `npm ci` only when
  # web/node_modules is missing or package-lock.json changed since it ran (a stamp inside
  # node_modules remembers); the esbuild build is fast, so it runs every time.
  command -v npm >/dev/null 2>&1 || ensure_debian_packages nodejs npm
  local stamp=web/node_modules/.percolate-lock.sha256 lock
  lock=$(sha256sum web/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock" ]; then
    quietly npm --prefix web ci --no-audit --no-fund
    echo "$lock" >"$stamp"
  fi
  quietly npm --prefix web run build
}
