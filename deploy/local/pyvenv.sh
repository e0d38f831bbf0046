#!/usr/bin/env bash
# Usage: deploy/local/pyvenv.sh DIR REQUIREMENTS
# Builds a fresh Python virtual environment in DIR with the pinned packages of
# REQUIREMENTS (replacing whatever DIR held).
set -euo pipefail
[[ $# -eq 2 ]] || { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
rm -rf "$1"
python3 -m venv "$1"
"$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
