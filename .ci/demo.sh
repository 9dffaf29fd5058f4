#!/usr/bin/env bash
# `make run`: portald with demo data, for this checkout.
#
# Ports: LISTEN_ADDR and METRICS_ADDR when set; otherwise :8080 and :9090
# when free, else a pair derived from the checkout's path (so a second
# checkout on the machine gets ports of its own, the same each time). Every
# printed line uses the ports actually served. A checkout whose portald is
# already running is told so (its pid is in .data/portald.pid). The demo
# property's manager key for portal-wifisync is kept in .data/ and reused
# while the database is the same. DEMO_DB names this checkout's database.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data

if [ -s .data/portald.pid ]; then
  pid=$(cat .data/portald.pid)
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'bin/portald'; then
    echo "this checkout's portald is already running (pid $pid) on $(cat .data/base_url 2>/dev/null || echo 'its port'):" >&2
    echo "use it, or stop it first (Ctrl-C in its shell, or: kill $pid)" >&2
    exit 1
  fi
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "building portald, portalctl and portal-wifisync (the first build takes a few minutes)…"
make --no-print-directory build >/dev/null
test -s .data/secret_key || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .data/secret_key; chmod 600 .data/secret_key; }
export SECRET_KEY="${SECRET_KEY:-$(cat .data/secret_key)}"
export DATABASE_URL="${DATABASE_URL:-$(.ci/services.sh database "$DEMO_DB")}"
bin/portalctl migrate >/dev/null || { echo "make run could not migrate $DATABASE_URL (above). To start this checkout's own demo database ($DEMO_DB) afresh: make reset-demo" >&2; exit 1; }

# Ports are chosen and taken under a lock of the machine's, so that two
# checkouts started at once do not both pick :8080.
exec 9>/tmp/resident-portal-make-run.lock
flock 9
if [ -z "${LISTEN_ADDR:-}" ] || [ -z "${METRICS_ADDR:-}" ]; then
  public=8080 metrics=9090
  if listening $public || listening $metrics; then
    # 18000–18998, even for the public port and odd for the metrics one.
    h=$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)
    public=$((18000 + (h % 500) * 2))
    for _ in $(seq 20); do
      metrics=$((public + 1))
      listening $public || listening $metrics || break
      public=$((public + 2 > 18998 ? 18000 : public + 2))
    done
  fi
  export LISTEN_ADDR="${LISTEN_ADDR:-:$public}" METRICS_ADDR="${METRICS_ADDR:-127.0.0.1:$metrics}"
fi
port=${LISTEN_ADDR##*:}
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://localhost:$port}"
base=$PUBLIC_BASE_URL
for addr in "$LISTEN_ADDR" "$METRICS_ADDR"; do
  if listening "${addr##*:}"; then
    echo "port ${addr##*:} ($addr) is taken by another program: set LISTEN_ADDR and METRICS_ADDR to free ones" >&2
    exit 1
  fi
done

(umask 077; printf "export DATABASE_URL='%s'\nexport SECRET_KEY='%s'\nexport PUBLIC_BASE_URL='%s'\n" "$DATABASE_URL" "$SECRET_KEY" "$PUBLIC_BASE_URL" > .data/env)
if ! demo=$(bin/portalctl demo); then
  echo "make run could not set up the demo in $DATABASE_URL (above). To start this checkout's own demo database ($DEMO_DB) afresh: make reset-demo" >&2
  exit 1
fi
field() { printf '%s' "$demo" | grep -o "\"$1\": *\"[^\"]*\"" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }
pid=$(field propertyId) secret=$(field hashedSecret) link=$(field portalUrl) playground=$(field playground)

echo "The resident page of the first demo unit (open it in a browser once portald is up):"
echo "  $link"
echo
echo "Try it — paste these lines into a shell once portald is up:"
echo "  TOKEN=\$(curl -s -X POST $base/residents/properties/$pid/units/logins -H 'Content-Type: application/json' -d '{\"hashedSecret\":\"$secret\"}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')"
echo "  curl -s $base/residents/properties/$pid/units -H \"Authorization: \$TOKEN\""
echo
echo "The GraphQL playground, ready to run (run LogIn: its token fills the Token field; then run MyUnit):"
echo "  $playground"
echo
echo "portalctl against this database, in another shell of this checkout:"
echo "  . .data/env && bin/portalctl help"
echo
echo "portald on $LISTEN_ADDR (metrics and profiles on $METRICS_ADDR)"
printf '%s\n' "$base" > .data/base_url

children=()
stop() { for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f .data/portald.pid; }
trap stop EXIT
trap 'exit 130' INT TERM
if [ -z "${NATS_URL:-}" ] && listening 4222; then export NATS_URL=nats://127.0.0.1:4222; fi
bin/portald 9>&- &
portald=$!
children+=($portald)
echo $portald > .data/portald.pid
for _ in $(seq 300); do # it holds its ports before the lock goes
  listening "$port" && break
  kill -0 $portald 2>/dev/null || break
  sleep 0.1
done
flock -u 9
exec 9>&-
if [ -n "${NATS_URL:-}" ]; then
  # The manager key portal-wifisync reads with, kept while the database
  # still holds it unrevoked (a reset demo has a new database).
  key=""
  if [ -s .data/wifisync_key ]; then
    read -r kpid kid kkey < .data/wifisync_key || true
    if [ "$kpid" = "$pid" ] && bin/portalctl manager-key list --property "$pid" | grep -A2 "\"keyId\": \"$kid\"" | grep -q '"revokedAt": null'; then
      key=$kkey
    fi
  fi
  if [ -z "$key" ]; then
    created=$(bin/portalctl manager-key create --property "$pid")
    key=$(printf '%s' "$created" | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    kid=$(printf '%s' "$created" | grep -o '"keyId": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    (umask 077; printf '%s %s %s\n' "$pid" "$kid" "$key" > .data/wifisync_key)
  fi
  echo "change delivery on: relaying to $NATS_URL; portal-wifisync applies changes (one JSON line each, below)"
  WIFISYNC_KEYS="$pid=$key" PORTAL_GRAPHQL_URL="$base/graphql" bin/portal-wifisync &
  children+=($!)
else
  echo "change delivery off: no NATS on 127.0.0.1:4222 and NATS_URL unset (change requests stay PENDING)"
fi
wait $portald
