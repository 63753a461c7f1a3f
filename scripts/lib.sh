# shellcheck shell=bash
# Shared helpers of the scripts in this folder. Sourced, not run.
#
# Everything the scripts create locally lives under .local/ in the repository (git-ignored):
#   .local/env         connection settings for our processes (written by setup, sourced by all)
#   .local/pids/       one file per process a script started; stop uses only these
#   .local/logs/       one log per process
#   (RocketMQ keeps its configuration and store per machine: see scripts/setup)
#   .local/redis/      Redis working directory (when setup starts its own Redis)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA="$ROOT/.local"
PIDS="$DATA/pids"
LOGS="$DATA/logs"
mkdir -p "$PIDS" "$LOGS"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m[%s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# port_open HOST PORT: whether something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# http_get HOST PORT PATH: prints the response body (HTTP/1.0, no curl needed).
http_get() {
  local body
  body=$( (exec 3<>"/dev/tcp/$1/$2" && printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" >&3 && cat <&3) 2>/dev/null) || return 1
  printf '%s' "${body#*$'\r\n\r\n'}"
}

# broker_ready: whether the local RocketMQ broker reports ready on its health port.
broker_ready() { http_get 127.0.0.1 5558 /readyz | grep -q '"ready"'; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s until it succeeds.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  log "$what: ready"
}

# as_root COMMAND...: runs COMMAND as root (directly or through sudo).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $*: no apt-get on this machine"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pid_alive NAME: whether the process recorded as NAME is running.
pid_alive() {
  local f="$PIDS/$1.pid"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start_background NAME COMMAND...: starts COMMAND detached, logging to .local/logs/NAME.log and
# recording its pid in .local/pids/NAME.pid.
start_background() {
  local name=$1; shift
  nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# stop_recorded NAME: stops the process recorded as NAME (TERM, then KILL after 10 s).
stop_recorded() {
  local f="$PIDS/$1.pid" pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$1 did not stop in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$f"
}

# Connection settings written by setup.
load_env() {
  [ -f "$DATA/env" ] || die "no .local/env: run scripts/setup first"
  # shellcheck disable=SC1091
  source "$DATA/env"
}

# db_url_for ROLE: the database URL a process of database role ROLE (scripts/roles' last field)
# connects with: APP_DATABASE__URL's server and database, as login commerce_<ROLE>_login, whose
# password PGPASSFILE (.local/pgpass) supplies (docs/database-roles.md). `-` (no database): the
# URL of a login that does not exist, so an unexpected connection fails loudly.
db_url_for() {
  local role=$1 rest=${APP_DATABASE__URL#*://}
  [ "$role" = - ] && role=none
  echo "postgres://commerce_${role}_login@${rest#*@}"
}
