#!/usr/bin/env bash
# Usage: deploy/local/once.sh DIR INPUT... -- COMMAND [ARG...]
#
# Runs COMMAND (which builds DIR from the INPUT files, e.g. a virtual
# environment from a requirements file) unless DIR/.inputs.sha256 records the
# INPUTs' current content, and records it after COMMAND succeeded. Content,
# not file times: a fresh clone, a checkout or a merge makes every input look
# newer than what it built, and a rebuild of a shared cache pulls it from
# under whatever else is using it.
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dir=$1; shift
inputs=()
while [[ $# -gt 0 && $1 != -- ]]; do inputs+=("$1"); shift; done
[[ ${1:-} == -- ]] || { echo "once.sh: missing -- before the command" >&2; exit 2; }
shift
want=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
stamp=$dir/.inputs.sha256
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
"$@"
mkdir -p "$dir"
printf '%s\n' "$want" >"$stamp"
