#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer at the URLs given; start the local servers where they are
# installed, or fail saying how to start them. Usage: ensure_services.sh DATABASE_URL REDIS_URL
set -euo pipefail
db_url=${1:?DATABASE_URL}
redis_url=${2:?REDIS_URL}

hostport() {  # scheme://user@host:port/db -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "${host:-127.0.0.1} $port"
}

read -r pg_host pg_port < <(hostport "$db_url" 5432)
read -r redis_host redis_port < <(hostport "$redis_url" 6379)

pg_up() { (exec 3<>"/dev/tcp/$pg_host/$pg_port") 2>/dev/null; }
redis_up() { [ "$(redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null)" = "PONG" ] || (exec 3<>"/dev/tcp/$redis_host/$redis_port") 2>/dev/null; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is not answering on $pg_host:$pg_port; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "PostgreSQL is not reachable at $pg_host:$pg_port. Start it (e.g. 'pg_ctlcluster <version> main start') or set DATABASE_URL."; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "Redis is not answering on $redis_host:$redis_port; starting a local server"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
  redis_up || { echo "Redis is not reachable at $redis_host:$redis_port. Start it ('redis-server --daemonize yes') or set REDIS_URL."; exit 1; }
fi
echo "services: PostgreSQL $pg_host:$pg_port and Redis $redis_host:$redis_port are up"
