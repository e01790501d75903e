#!/usr/bin/env bash
# Install the Debian packages that infermeter needs, when missing.
#   scripts/system-deps.sh demo   python3-venv only
#   scripts/system-deps.sh test   + prometheus (promtool), prometheus-alertmanager (amtool),
#                                   chromium and chromium-driver (portal browser tests)
# As root it installs with apt-get; otherwise it says what to install and fails.
set -euo pipefail
mode=${1:-test}

need=()
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ "$mode" = test ]; then
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi
echo "missing system packages: ${need[*]}" >&2
echo "install them with: sudo apt-get install ${need[*]}" >&2
exit 1
