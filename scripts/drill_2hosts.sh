#!/usr/bin/env bash
# `make drill-2hosts`: the two-host drill (devtools/two_hosts). Needs root (network namespaces).
# The drill's database gets a synthetic population and its Redis database is flushed: they are
# DRILL_DATABASE_URL and DRILL_REDIS_URL, never DATABASE_URL / REDIS_URL. Arguments go to
# `manage.py drill_2hosts` (--recipients, --rate-limit, --window, --finish-timeout, --port-base, --no-pin).
# The trap removes the namespaces, the bridge and whatever runs in them even if the drill dies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ "$(id -u)" = 0 ] || { echo "the two-host drill creates network namespaces: run it as root"; exit 1; }
command -v ip >/dev/null || { echo "iproute2's ip not found: apt-get install -y iproute2"; exit 1; }

export DATABASE_URL="${DRILL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/scrm_drill}"
export REDIS_URL="${DRILL_REDIS_URL:-redis://127.0.0.1:6379/11}"
# Production-like processes (no DEBUG query log); throwaway keys, the drill's data is synthetic.
export DEBUG=false SECURE_SSL_REDIRECT=false ALLOWED_HOSTS='*'
export SECRET_KEY="${DRILL_SECRET_KEY:-drill-only-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz}"
export FIELD_ENCRYPTION_KEY="${DRILL_FIELD_ENCRYPTION_KEY:-ZHJpbGwtb25seS1rZXktMzItYnl0ZXMtbG9uZyEhISE=}"
unset SCRM_TESTING

# One drill at a time on a machine: the namespaces, the bridge and the ports are the machine's.
exec 9>"${TMPDIR:-/tmp}/scrm-drill-2hosts.lock"
flock -n 9 || { echo "another two-host drill is running on this machine"; exit 1; }

cleanup() { $PY -m devtools.two_hosts.network down || true; }
trap cleanup EXIT INT TERM HUP

bash scripts/ensure_services.sh "$DATABASE_URL" "$REDIS_URL"
$PY scripts/ensure_database.py
$PY manage.py migrate --noinput -v 0
$PY manage.py drill_2hosts "$@"
