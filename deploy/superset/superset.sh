#!/usr/bin/env bash
# Apache Superset for shopstream: install it, provision its metadata with the
# shopstream dashboard, run it.
#
#   superset.sh install VENV        Superset 6.1.0 and clickhouse-connect in the
#                                   virtual environment VENV (requirements.txt)
#   superset.sh bundle VENV OUT.zip the import bundle: bundle/ as a ZIP, with
#                                   the warehouse URI put in
#   superset.sh setup VENV HOME     a metadata database (SQLite) in HOME, an
#                                   admin user, and the bundle imported
#   superset.sh run VENV HOME [PORT] the web server on 127.0.0.1:PORT (8088)
#
# Environment: SHOPSTREAM_SUPERSET_CLICKHOUSE_URI (the warehouse, default
# make run's embedded one), SUPERSET_ADMIN_PASSWORD (default "admin": local
# use only), SUPERSET_SECRET_KEY (default: random, kept in HOME/secret_key).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
uri="${SHOPSTREAM_SUPERSET_CLICKHOUSE_URI:-clickhousedb://default:@127.0.0.1:8123/default}"

usage() { sed -n '2,17p' "$0" >&2; exit 2; }

env_for() { # HOME: the environment every superset command needs
	local home="$1"
	mkdir -p "$home"
	if [[ -z "${SUPERSET_SECRET_KEY:-}" ]]; then
		[[ -s "$home/secret_key" ]] || (umask 077 && head -c 32 /dev/urandom | base64 > "$home/secret_key")
		SUPERSET_SECRET_KEY="$(cat "$home/secret_key")"
	fi
	export SUPERSET_SECRET_KEY SUPERSET_HOME="$home" SUPERSET_CONFIG_PATH="$here/superset_config.py" FLASK_APP=superset
}

cmd="${1:-}"
case "$cmd" in
install)
	venv="${2:?venv}"
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
	;;
bundle)
	venv="${2:?venv}" out="${3:?out.zip}"
	"$venv/bin/python" - "$here/bundle" "$out" "$uri" <<'EOF'
import os, sys, zipfile
src, out, uri = sys.argv[1:4]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk(src):
        for f in sorted(files):
            path = os.path.join(root, f)
            text = open(path, encoding="utf-8").read().replace("__SHOPSTREAM_CLICKHOUSE_URI__", uri)
            # Superset wants one top-level folder in the ZIP.
            z.writestr(os.path.join("shopstream", os.path.relpath(path, src)), text)
EOF
	;;
setup)
	venv="${2:?venv}" home="${3:?home}"
	env_for "$home"
	"$venv/bin/superset" db upgrade >"$home/setup.log" 2>&1 || { tail -30 "$home/setup.log"; exit 1; }
	"$venv/bin/superset" fab create-admin --username admin --firstname shop --lastname stream \
		--email admin@localhost --password "${SUPERSET_ADMIN_PASSWORD:-admin}" >>"$home/setup.log" 2>&1 || { tail -30 "$home/setup.log"; exit 1; }
	"$venv/bin/superset" init >>"$home/setup.log" 2>&1 || { tail -30 "$home/setup.log"; exit 1; }
	"$0" bundle "$venv" "$home/shopstream-bundle.zip"
	"$venv/bin/superset" import-dashboards -p "$home/shopstream-bundle.zip" -u admin >>"$home/setup.log" 2>&1 || { tail -30 "$home/setup.log"; exit 1; }
	echo "superset metadata in $home, dashboard imported (warehouse ${uri%%:*}://...${uri##*@})"
	;;
run)
	venv="${2:?venv}" home="${3:?home}" port="${4:-8088}"
	env_for "$home"
	exec "$venv/bin/superset" run -h 127.0.0.1 -p "$port" --with-threads
	;;
*) usage ;;
esac
