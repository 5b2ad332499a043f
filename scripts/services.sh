#!/usr/bin/env bash
# Make sure the services the tests talk to are up: PostgreSQL and Redis on their standard
# local ports. Starts them (installing them from Debian's packages if needed, as root) when
# they are not answering; a no-op on a machine where they already run.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
as_root() { [ "$(id -u)" = 0 ]; }

if ! command -v pg_isready >/dev/null || ! command -v redis-cli >/dev/null; then
  if as_root && command -v apt-get >/dev/null; then
    echo "services: installing postgresql and redis-server" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
  fi
fi

if ! pg_up; then
  echo "services: starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { echo "services: PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
fi
# The tests connect as postgres over TCP without a password (trust), as this machine is set up.
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1" >/dev/null 2>&1 && as_root; then
  echo "services: allowing trust auth for local TCP connections (test machine only)" >&2
  hba=$(su postgres -c "psql -tAc 'show hba_file'")
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  su postgres -c "psql -tAc 'select pg_reload_conf()'" >/dev/null
fi

if ! redis_up; then
  echo "services: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 40); do redis_up && break; sleep 0.25; done
  redis_up || { echo "services: Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }
fi
