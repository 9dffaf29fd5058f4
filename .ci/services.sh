#!/usr/bin/env bash
# Makes sure the services the tests and `make run` need are up:
#   .ci/services.sh postgres   → prints a DATABASE_URL of a running PostgreSQL
#   .ci/services.sh database N → the same, for database N (created if missing)
#   .ci/services.sh redis      → makes sure Redis answers on 127.0.0.1:6379
#   .ci/services.sh nats       → makes sure NATS (JetStream on) answers on 127.0.0.1:4222
#   .ci/services.sh chromium   → makes sure Debian's chromium is installed (the browser test)
#   .ci/services.sh radclient  → makes sure FreeRADIUS's radclient and dictionaries are installed (the RADIUS tests)
# PostgreSQL: the machine's cluster on 127.0.0.1:5432 if it answers or can be
# started; otherwise a private cluster under .data/pg (git-ignored) on port
# 55432, run as the postgres user (PostgreSQL refuses to run as root).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "services: $*" >&2; }

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { log "no PostgreSQL server binaries; installing"; apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2; d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); }
  echo "$d"
}

ready() { pg_isready -q -h 127.0.0.1 -p "$1" 2>/dev/null; }

# usable: the server on port $1 takes postgres over TCP without a password
# (Debian's own cluster asks for one: scram-sha-256 on host connections).
usable() { ready "$1" && PGCONNECT_TIMEOUT=3 psql "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable" -Atqc 'SELECT 1' >/dev/null 2>&1 </dev/null; }

ensure_postgres() {
  if usable 5432; then echo "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; return; fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    log "starting the machine's PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start >&2 || true
    for _ in $(seq 50); do ready 5432 && break; sleep 0.2; done
    if usable 5432; then echo "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; return; fi
    ready 5432 && log "the cluster on 5432 wants a password for postgres over TCP; using a private cluster instead"
  fi
  local bin data port=55432
  bin=$(pg_bin)
  data="$top/.data/pg"
  if ! ready $port; then
    mkdir -p "$top/.data"
    if [ ! -f "$data/PG_VERSION" ]; then
      log "creating a private PostgreSQL cluster in $data"
      install -d -o postgres -g postgres "$data"
      runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    chown -R postgres:postgres "$data"
    log "starting the private PostgreSQL cluster on port $port"
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  command -v redis-server >/dev/null || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2; }
  log "starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return; sleep 0.2; done
  log "Redis did not start"; return 1
}

ensure_nats() {
  if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then return; fi
  [ -x /usr/sbin/nats-server ] || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2; }
  log "starting NATS (JetStream) on 127.0.0.1:4222"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log >&2
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && return; sleep 0.2; done
  log "NATS did not start"; return 1
}

ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return
  log "installing Debian's chromium for the browser test"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
}

ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return
  log "installing Debian's prometheus for promtool (the server it brings is not started)"
  local policy=/usr/sbin/policy-rc.d made=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made=1; fi
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
  [ -n "$made" ] && rm -f "$policy"
  return 0
}

ensure_radclient() {
  command -v radclient >/dev/null 2>&1 && [ -f /usr/share/freeradius/dictionary ] && return
  log "installing Debian's freeradius-utils (radclient) and FreeRADIUS's dictionaries"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends freeradius-utils freeradius-common >&2
}

ensure_netns() {
  # The tests that make network faults for real (db/dbtest.StartNetns): a
  # namespace of their own (iproute2) and a DROP rule inside it (iptables).
  command -v ip >/dev/null 2>&1 && command -v iptables >/dev/null 2>&1 && return
  log "installing Debian's iproute2 and iptables"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 iptables >&2
}

ensure_release() {
  # make release's test: dpkg-deb reads the package, systemd-analyze checks its units.
  command -v dpkg-deb >/dev/null 2>&1 && command -v systemd-analyze >/dev/null 2>&1 && return
  log "installing Debian's systemd (systemd-analyze) for the release test"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd dpkg >&2
}

ensure_database() {
  local admin name=$1
  admin=$(ensure_postgres)
  if ! psql "$admin" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    log "creating database $name"
    psql "$admin" -qc "CREATE DATABASE \"$name\"" >&2
  fi
  echo "${admin%/postgres*}/$name?sslmode=disable"
}

drop_database() {
  local admin name=$1
  admin=$(ensure_postgres)
  log "dropping database $name"
  psql "$admin" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >&2
}

case "${1:-}" in
  postgres) ensure_postgres ;;
  database) ensure_database "${2:?database name}" ;;
  drop-database) drop_database "${2:?database name}" ;;
  redis) ensure_redis ;;
  nats) ensure_nats ;;
  chromium) ensure_chromium ;;
  promtool) ensure_promtool ;;
  radclient) ensure_radclient ;;
  netns) ensure_netns ;;
  release) ensure_release ;;
  *) echo "usage: $0 postgres | database NAME | drop-database NAME | redis | nats | chromium | promtool | radclient | netns | release" >&2; exit 2 ;;
esac
