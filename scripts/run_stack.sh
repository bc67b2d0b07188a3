#!/usr/bin/env bash
# `make run`: migrate, load demo data, start the WeChat sandbox, web, Celery worker and beat.
# Ctrl-C stops all of them. DEMO_CUSTOMERS sets the demo population (default 3000; `make e2e` seeds fewer).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-true}
export PORT=${PORT:-8000}
export SANDBOX_PORT=${SANDBOX_PORT:-8900}
export SANDBOX_BASE_URL=${SANDBOX_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT/}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}
PY=.venv/bin/python
mkdir -p var

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap stop INT TERM EXIT

$PY manage.py shell -v 0 -c "from scrm.backends import describe_backends; print('backends in use —', describe_backends())"
$PY scripts/ensure_database.py
$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0

$PY manage.py wechat_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" & pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SANDBOX_PORT") 2>/dev/null && break; sleep 0.2; done

$PY manage.py seed_demo ${DEMO_CUSTOMERS:+--customers "$DEMO_CUSTOMERS"}
$PY manage.py sandbox_register

$PY -m gunicorn scrm.wsgi:application --bind "0.0.0.0:$PORT" --workers 2 --threads 4 --graceful-timeout 10 --access-logfile - & pids+=($!)
$PY -m celery -A scrm worker -Q callbacks,dispatch,planning,analytics,default --concurrency 2 -l INFO & pids+=($!)
$PY -m celery -A scrm beat -l INFO & pids+=($!)

echo "web on http://127.0.0.1:$PORT/  (admin: http://127.0.0.1:$PORT/admin/, API docs: http://127.0.0.1:$PORT/api/docs/)"
echo "press Ctrl-C to stop"
wait -n "${pids[@]}" || true
