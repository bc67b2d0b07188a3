#!/usr/bin/env bash
# `make run`: migrate, load demo data, start the WeChat sandbox, web, Celery workers and beat.
# Ctrl-C, or SIGTERM to the script or to its process group, stops all of them within STOP_GRACE
# seconds (default 6): what is still running then is killed.
# RUN_STACK_SETUP=0 skips migrate, collectstatic and the demo data (a database already prepared).
# DEMO_CUSTOMERS sets the demo population (default 3000; `make e2e` seeds fewer).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-true}
export PORT=${PORT:-8000}
export SANDBOX_PORT=${SANDBOX_PORT:-8900}
export SANDBOX_BASE_URL=${SANDBOX_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT/}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}
PY=.venv/bin/python
mkdir -p var

STOP_GRACE=${STOP_GRACE:-6}
pids=()
worker_pids=" "
stop() {
  # Ignore the signals that follow the first (make passes SIGTERM on to this script when it is
  # itself terminated; a second Ctrl-C): dying here would orphan the worker mid-shutdown.
  trap '' INT TERM HUP
  trap - EXIT
  echo; echo "stopping…"
  # The Celery worker gets SIGQUIT, a cold shutdown (what Ctrl-C asks for): running tasks have
  # worker_soft_shutdown_timeout to finish, then go back to their queue (acks_late; every task is
  # idempotent). SIGTERM would be a warm shutdown, waiting for them however long they take — a
  # follower sync or a dispatch slice — and a group SIGTERM reaching its pool processes directly
  # is ignored by them (REMAP_SIGTERM below) for the same reason.
  for pid in "${pids[@]}"; do
    if [[ "$worker_pids" == *" $pid "* ]]; then kill -QUIT "$pid" 2>/dev/null || true
    else kill -TERM "$pid" 2>/dev/null || true; fi
  done
  local deadline=$((SECONDS + STOP_GRACE)) left
  while :; do
    left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      echo "still running after ${STOP_GRACE}s, killed: ${left[*]}"
      # A supervised worker is a grandchild here (scripts/supervise.py → celery → its pool).
      for pid in "${left[@]}"; do
        for child in $(pgrep -P "$pid" 2>/dev/null); do pkill -KILL -P "$child" 2>/dev/null || true; done
        pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true
      done
      break
    fi
    sleep 0.2
  done
  wait 2>/dev/null || true
  echo "stopped"
}
trap stop INT TERM HUP EXIT

if [ "${RUN_STACK_SETUP:-1}" != 0 ]; then
  $PY manage.py shell -v 0 -c "from scrm.backends import describe_backends; print('backends in use —', describe_backends())"
  $PY scripts/ensure_database.py
  $PY manage.py migrate --noinput -v 0
  $PY manage.py collectstatic --noinput -v 0
fi

$PY manage.py wechat_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" & pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SANDBOX_PORT") 2>/dev/null && break; sleep 0.2; done

if [ "${RUN_STACK_SETUP:-1}" != 0 ]; then
  $PY manage.py seed_demo ${DEMO_CUSTOMERS:+--customers "$DEMO_CUSTOMERS"}
  $PY manage.py sandbox_register
fi

$PY -m gunicorn scrm.wsgi:application --bind "0.0.0.0:$PORT" --workers 2 --threads 4 --graceful-timeout 5 --access-logfile - & pids+=($!)
# The workers and beat run under scripts/supervise.py: one that exits on its own (a Celery worker
# dies when Redis vanishes for good: kombu's "Unrecoverable error") is started again with backoff
# (1 s, 2, 4 … 30 s), so the stack recovers once Redis is back. The supervisor passes stop signals
# on (QUIT below is the worker's cold shutdown) and restarts nothing after them.
SUPERVISE="$PY scripts/supervise.py"
REMAP_SIGTERM=SIGQUIT $SUPERVISE --name worker -- $PY -m celery -A scrm worker -Q callbacks,dispatch,planning,analytics,default --concurrency 2 -l INFO & pids+=($!)
worker_pids+="$! "
# WeCom welcome messages have 20 s (messaging/channels/welcome.py): a worker of their own, never
# busy with a sync or a dispatch slice when a new contact arrives.
REMAP_SIGTERM=SIGQUIT $SUPERVISE --name welcome -- $PY -m celery -A scrm worker -Q welcome --concurrency 2 -n welcome@%h -l INFO & pids+=($!)
worker_pids+="$! "
$SUPERVISE --name beat -- $PY -m celery -A scrm beat -l INFO & pids+=($!)

echo "web on http://127.0.0.1:$PORT/  (admin: http://127.0.0.1:$PORT/admin/, API docs: http://127.0.0.1:$PORT/api/docs/)"
echo "press Ctrl-C to stop"
wait -n "${pids[@]}" || true
