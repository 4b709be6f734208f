#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages named on the command line when they are missing, e.g.
#   scripts/system-packages.sh postgresql
#   scripts/system-packages.sh --all        # every package the tests need (.ci/apt-packages.txt)
# As root it runs apt-get; with passwordless sudo it uses sudo; otherwise it prints the one command
# to run and fails, so nothing is half-installed silently.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
for arg in "$@"; do
  if [[ "$arg" == "--all" ]]; then
    mapfile -t -O "${#packages[@]}" packages < <(grep -v '^\s*#' .ci/apt-packages.txt | sed '/^\s*$/d')
  else
    packages+=("$arg")
  fi
done
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
((${#missing[@]})) || exit 0
if ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]} (install them with your package manager)" >&2
  exit 1
fi
if [[ $EUID -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "missing system packages; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
