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
