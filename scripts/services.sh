#!/usr/bin/env bash
# Bring up (or reuse) the backing services used by `make run` and `make test`:
# Postgres, Redis and an S3-compatible store (moto).
#
# Usage: scripts/services.sh up|down|env|status [--profile run|test]
#
#   up      Reuse the services named by DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL
#           when those are set, otherwise start private instances whose state
#           lives in .devdata/<profile>/. Writes .devdata/<profile>/env.
#           Progress goes to stderr; nothing is printed on stdout.
#   down    Stop only what this script started for the profile (the test
#           profile also deletes its Postgres data). Idempotent.
#   env     Print the env file written by `up`, for
#           eval "$(scripts/services.sh env --profile test)"
#   status  One line per component: name, external|private, url, up|down.
#           Exit status 0 when everything is up, 3 otherwise.
#
# Profiles: run  -> persistent data, fsync on; ports 55432 / 56379 / 59000
#           test -> fresh Postgres data on each `up` (unless the cluster is
#                   already running, in which case it is reused), no
#                   durability; ports 55433 / 56380 / 59001
# A default port that is taken by something else is replaced by a free one
# (the chosen port is recorded in the state directory and shown by `env`).
set -euo pipefail
shopt -s inherit_errexit nullglob

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVDATA="$ROOT/.devdata"
PROFILES=(run test)

usage() {
    cat <<'EOF'
Usage: scripts/services.sh up|down|env|status [--profile run|test]

  up      start or reuse Postgres, Redis and S3 (moto); write .devdata/<profile>/env
  down    stop what this script started for the profile
  env     print export lines (eval "$(scripts/services.sh env --profile test)")
  status  show each component: external|private, url, up|down

Set DATABASE_URL, REDIS_URL or S3_ENDPOINT_URL to use an existing service
instead of a private one. The profile defaults to "run".
EOF
}

CMD=""
PROFILE="run"
while (($#)); do
    case "$1" in
        up | down | env | status)
            if [[ -n $CMD ]]; then
                usage >&2
                exit 2
            fi
            CMD="$1"
            ;;
        --profile)
            if (($# < 2)); then
                usage >&2
                exit 2
            fi
            PROFILE="$2"
            shift
            ;;
        --profile=*) PROFILE="${1#*=}" ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done
if [[ -z $CMD ]]; then
    usage >&2
    exit 2
fi

log() { printf '[services:%s] %s\n' "$PROFILE" "$*" >&2; }
die() {
    printf '[services:%s] ERROR: %s\n' "$PROFILE" "$*" >&2
    exit 1
}

default_port() { # component profile
    case "$1:$2" in
        pg:run) echo 55432 ;;
        pg:test) echo 55433 ;;
        redis:run) echo 56379 ;;
        redis:test) echo 56380 ;;
        s3:run) echo 59000 ;;
        s3:test) echo 59001 ;;
        *) return 1 ;;
    esac
}

case "$PROFILE" in
    run | test) ;;
    *) die "unknown profile '$PROFILE' (expected run or test)" ;;
esac

STATE="$DEVDATA/$PROFILE"
ENV_FILE="$STATE/env"
PG_DIR="$STATE/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
REDIS_PIDFILE="$STATE/redis.pid"
REDIS_LOG="$STATE/redis.log"
MOTO_PIDFILE="$STATE/moto.pid"
MOTO_LOG="$STATE/moto.log"
MOTO_BIN="$ROOT/.venv/bin/moto_server"
PG_DB="tawasul"
PG_USER="tawasul"

IS_ROOT=0
if [[ $(id -u) -eq 0 ]]; then IS_ROOT=1; fi
PG_OS_USER="postgres"

# ---------------------------------------------------------------------------
# generic helpers

port_file() { echo "$DEVDATA/$2/$1.port"; } # component profile

recorded_port() { # component [profile]
    local f p
    f="$(port_file "$1" "${2:-$PROFILE}")"
    [[ -f $f ]] || return 1
    p="$(<"$f")"
    [[ $p =~ ^[0-9]+$ ]] || return 1
    echo "$p"
}

record_port() { echo "$2" >"$(port_file "$1" "$PROFILE")"; } # component port

port_free() { # port -> 0 when 127.0.0.1:port can be bound (like the servers do)
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

pick_free_port() {
    python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

choose_port() { # component -> prints a port free for a new private instance
    local comp="$1" p def
    def="$(default_port "$comp" "$PROFILE")"
    for p in "$def" "$(recorded_port "$comp" || true)"; do
        [[ -n $p ]] || continue
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    p="$(pick_free_port)"
    log "port $def is in use by something else; using free port $p for $comp"
    echo "$p"
}

pid_alive() { # pidfile pattern -> 0 when the pid is running and its cmdline matches
    local pidfile="$1" pattern="$2" pid cmdline
    [[ -r $pidfile ]] || return 1
    pid="$(head -n1 "$pidfile" 2>/dev/null | tr -d '[:space:]')"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ $cmdline == *"$pattern"* ]]
}

read_pid() { head -n1 "$1" 2>/dev/null | tr -d '[:space:]'; }

kill_pidfile() { # pidfile pattern name
    local pidfile="$1" pattern="$2" name="$3" pid i
    if pid_alive "$pidfile" "$pattern"; then
        pid="$(read_pid "$pidfile")"
        log "stopping private $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name did not exit after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    else
        log "private $name is not running"
    fi
    rm -f "$pidfile"
}

tcp_open() { # host port -> 0 when something accepts a TCP connection
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

url_host_port() { # url default-port -> "host port"
    python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or int(sys.argv[2]))
PY
}

http_answers() { # url -> 0 when an HTTP server answers (any status)
    local code
    if command -v curl >/dev/null 2>&1; then
        code="$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" 2>/dev/null || true)"
        [[ -n $code && $code != 000 ]]
    else
        python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
    fi
}

shell_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

apt_install() { # packages...
    if ((!IS_ROOT)); then
        die "missing $*; install it with: sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*"
    fi
    log "installing $* with apt-get (this happens once)"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2
}

# URLs of the private instances; an environment variable equal to one of them
# (e.g. left over from eval "$(scripts/services.sh env)") is not "external".
private_url() { # component port
    case "$1" in
        pg) echo "postgresql+asyncpg://$PG_USER@127.0.0.1:$2/$PG_DB" ;;
        pgadmin) echo "postgresql+asyncpg://$PG_USER@127.0.0.1:$2/postgres" ;;
        redis) echo "redis://127.0.0.1:$2/0" ;;
        s3) echo "http://127.0.0.1:$2" ;;
    esac
}

own_url_profile() { # component url -> prints the profile whose private url this is
    local comp="$1" url="$2" prof port portcomp="$1"
    [[ $comp == pgadmin ]] && portcomp=pg
    for prof in "${PROFILES[@]}"; do
        for port in "$(recorded_port "$portcomp" "$prof" || true)" "$(default_port "$portcomp" "$prof")"; do
            [[ -n $port ]] || continue
            if [[ $url == "$(private_url "$comp" "$port")" ]]; then
                echo "$prof"
                return 0
            fi
        done
    done
    return 1
}

external_value() { # component varname -> prints the external value, or fails
    local comp="$1" var="$2" val prof
    val="${!var:-}"
    [[ -n $val ]] || return 1
    if prof="$(own_url_profile "$comp" "$val")"; then
        if [[ $prof != "$PROFILE" && $CMD == up ]]; then
            log "ignoring $var=$val: it is the private instance of the '$prof' profile"
        fi
        return 1
    fi
    echo "$val"
}

# ---------------------------------------------------------------------------
# Postgres

find_pg_bindir() {
    local d v dirs
    # A persistent data directory must be served by its own major version.
    if [[ -r $PG_DATA/PG_VERSION ]]; then
        v="$(<"$PG_DATA/PG_VERSION")"
        if [[ -x /usr/lib/postgresql/$v/bin/pg_ctl ]]; then
            echo "/usr/lib/postgresql/$v/bin"
            return 0
        fi
    fi
    dirs=(/usr/lib/postgresql/*/bin)
    if ((${#dirs[@]})); then
        d="$(printf '%s\n' "${dirs[@]}" | sort -V | tail -1)"
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return 0
        fi
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return 0
        fi
    fi
    return 1
}

ensure_pg_bindir() {
    if PG_BIN="$(find_pg_bindir)"; then return 0; fi
    apt_install postgresql postgresql-contrib
    PG_BIN="$(find_pg_bindir)" || die "PostgreSQL binaries not found even after installing them"
}

pg_isready_bin() { # prints a pg_isready executable, if any
    local d
    if d="$(find_pg_bindir)" && [[ -x $d/pg_isready ]]; then
        echo "$d/pg_isready"
    elif command -v pg_isready >/dev/null 2>&1; then
        command -v pg_isready
    else
        return 1
    fi
}

as_pg() { # run a command as the OS user owning the cluster
    if ((IS_ROOT)); then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

pg_running() { pid_alive "$PG_DATA/postmaster.pid" postgres; }

pg_running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null | tr -d '[:space:]'; }

pg_sockdir() { # unix socket paths are limited to ~107 bytes
    local d="$PG_DIR/sock"
    if ((${#d} > 80)); then
        d="${TMPDIR:-/tmp}/tawasul-pg-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)"
    fi
    echo "$d"
}

libpq_url() { # postgresql+asyncpg://... -> postgresql://...
    local url="$1"
    if [[ $url =~ ^([A-Za-z]+)\+[A-Za-z0-9_]+://(.*)$ ]]; then
        url="${BASH_REMATCH[1]}://${BASH_REMATCH[2]}"
    fi
    echo "$url"
}

with_database() { # url dbname -> url with its database replaced
    local url="$1" db="$2"
    if [[ $url =~ ^([^/]*//[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
        echo "${BASH_REMATCH[1]}/$db${BASH_REMATCH[3]}"
    else
        echo "$url"
    fi
}

external_pg_answers() { # url
    local url isready hp
    url="$(libpq_url "$1")"
    if isready="$(pg_isready_bin)"; then
        if [[ $url != *\?* ]]; then
            "$isready" -q -t 3 -d "$url"
            return
        fi
        # libpq rejects asyncpg-only query parameters (e.g. ?ssl=): retry without them
        "$isready" -q -t 3 -d "$url" 2>/dev/null || "$isready" -q -t 3 -d "${url%%\?*}"
    fi
    hp="$(url_host_port "$url" 5432)" || return 1
    # shellcheck disable=SC2086 # "host port"
    tcp_open ${hp}
}

init_pg_cluster() {
    local locale="C.UTF-8" out="$PG_DIR/initdb.log"
    if command -v locale >/dev/null 2>&1 && ! locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale="C"
    fi
    log "initialising Postgres cluster in ${PG_DATA#"$ROOT"/} (locale $locale)"
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U "$PG_USER" --no-sync -E UTF8 \
        --locale="$locale" >"$out" 2>&1; then
        if [[ $locale != C ]]; then
            log "initdb with --locale=$locale failed; retrying with --locale=C"
            rm -rf "$PG_DATA"
            if as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U "$PG_USER" --no-sync -E UTF8 \
                --locale=C >"$out" 2>&1; then
                return 0
            fi
        fi
        cat "$out" >&2
        die "initdb failed (see above)"
    fi
}

start_private_pg() {
    local sock opts port v
    ensure_pg_bindir
    if pg_running; then
        PG_PORT="$(pg_running_port)"
        log "reusing private Postgres (pid $(read_pid "$PG_DATA/postmaster.pid"), port $PG_PORT)"
    else
        if [[ $PROFILE == test && -e $PG_DATA ]]; then
            log "wiping previous test Postgres data"
            rm -rf "$PG_DATA"
        fi
        # A killed postmaster can linger as a zombie until init reaps it, and
        # postgres refuses to start while the pid in postmaster.pid exists.
        local stale i
        stale="$(read_pid "$PG_DATA/postmaster.pid" || true)"
        if [[ $stale =~ ^[0-9]+$ ]]; then
            for ((i = 0; i < 100; i++)); do
                [[ $(ps -o stat= -p "$stale" 2>/dev/null || true) == Z* ]] || break
                sleep 0.1
            done
        fi
        sock="$(pg_sockdir)"
        mkdir -p "$PG_DIR" "$sock"
        if ((IS_ROOT)); then
            if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
                useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
            fi
            # Postgres refuses to run as root: the cluster belongs to "postgres".
            chown "$PG_OS_USER:" "$PG_DIR" "$sock"
            [[ -e $PG_LOG ]] && chown "$PG_OS_USER:" "$PG_LOG"
            chmod 700 "$PG_DIR"
            as_pg test -w "$PG_DIR" ||
                die "user $PG_OS_USER cannot reach $PG_DIR; make its parent directories world-searchable (chmod o+x)"
        fi
        if [[ ! -s $PG_DATA/PG_VERSION ]]; then
            rm -rf "$PG_DATA"
            init_pg_cluster
        fi
        v="$(<"$PG_DATA/PG_VERSION")"
        if [[ ! $("$PG_BIN/postgres" --version) =~ \ ${v}[.\ ] ]]; then
            die "${PG_DATA#"$ROOT"/} was created by PostgreSQL $v but $PG_BIN is $("$PG_BIN/postgres" --version); install PostgreSQL $v or delete the data directory"
        fi
        port="$(choose_port pg)"
        opts="-p $port -k '$sock' -c listen_addresses=127.0.0.1"
        if [[ $PROFILE == test ]]; then
            opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        fi
        log "starting private Postgres on 127.0.0.1:$port"
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 60 -l "$PG_LOG" -o "$opts" start >/dev/null 9>&-; then
            tail -n 30 "$PG_LOG" >&2 2>/dev/null || true
            die "Postgres failed to start (log: $PG_LOG)"
        fi
        PG_PORT="$port"
    fi
    record_port pg "$PG_PORT"
    local psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER")
    if [[ $("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") != 1 ]]; then
        log "creating database $PG_DB"
        "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB" ||
            die "could not create database $PG_DB"
    fi
}

stop_private_pg() {
    local bin pid i
    if pg_running; then
        log "stopping private Postgres (port $(pg_running_port))"
        if bin="$(find_pg_bindir)"; then
            as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
                die "pg_ctl stop failed"
        else
            pid="$(read_pid "$PG_DATA/postmaster.pid")"
            kill -INT "$pid" 2>/dev/null || true # SIGINT = fast shutdown
            for ((i = 0; i < 600; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    else
        log "private Postgres is not running"
    fi
    if [[ $PROFILE == test ]]; then
        rm -rf "$PG_DIR"
        local sock
        sock="$(pg_sockdir)"
        [[ $sock == "$PG_DIR"/* ]] || rm -rf "$sock"
    fi
}

# ---------------------------------------------------------------------------
# Redis

redis_ping() { # host port
    local reply
    if command -v redis-cli >/dev/null 2>&1; then
        [[ $(redis-cli -h "$1" -p "$2" ping 2>/dev/null) == PONG ]]
    else
        # shellcheck disable=SC2016 # expanded by the inner bash
        reply="$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"; printf "PING\r\n" >&3; head -c 5 <&3' _ "$1" "$2" 2>/dev/null || true)"
        [[ $reply == +PONG ]]
    fi
}

external_redis_answers() { # url
    local hp
    if command -v redis-cli >/dev/null 2>&1; then
        [[ $(redis-cli --no-auth-warning -u "$1" ping 2>/dev/null) == PONG ]]
    else
        hp="$(url_host_port "$1" 6379)" || return 1
        # shellcheck disable=SC2086 # "host port"
        tcp_open ${hp}
    fi
}

start_private_redis() {
    local port i args
    if pid_alive "$REDIS_PIDFILE" redis-server && port="$(recorded_port redis)"; then
        log "reusing private Redis (pid $(read_pid "$REDIS_PIDFILE"), port $port)"
    else
        if ! command -v redis-server >/dev/null 2>&1; then
            apt_install redis-server
        fi
        port="$(choose_port redis)"
        rm -f "$REDIS_PIDFILE"
        args=(--port "$port" --bind 127.0.0.1 --save '' --daemonize yes
            --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$STATE")
        if [[ $PROFILE == run ]]; then
            args+=(--appendonly yes --appendfsync everysec)
        else
            args+=(--appendonly no)
        fi
        log "starting private Redis on 127.0.0.1:$port"
        redis-server "${args[@]}" >/dev/null 9>&- || die "redis-server failed to start (log: $REDIS_LOG)"
        record_port redis "$port"
    fi
    for ((i = 0; i < 100; i++)); do
        if redis_ping 127.0.0.1 "$port"; then
            REDIS_PORT="$port"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$REDIS_LOG" >&2 2>/dev/null || true
    die "private Redis on port $port does not answer PING (log: $REDIS_LOG)"
}

# ---------------------------------------------------------------------------
# S3 (moto)

launch_private_moto() { # starts moto in the background; wait_private_moto waits for it
    local port
    if pid_alive "$MOTO_PIDFILE" moto_server && port="$(recorded_port s3)"; then
        log "reusing private S3/moto (pid $(read_pid "$MOTO_PIDFILE"), port $port)"
    else
        [[ -x $MOTO_BIN ]] ||
            die "$MOTO_BIN not found; create the virtualenv and pip install 'moto[server]'"
        port="$(choose_port s3)"
        rm -f "$MOTO_PIDFILE"
        log "starting private S3/moto on 127.0.0.1:$port"
        # setsid: survives Ctrl-C in the calling terminal; the pid is written
        # by the process itself, which then execs into moto_server.
        # shellcheck disable=SC2016 # expanded by the inner sh
        setsid sh -c 'echo $$ >"$1"; shift; exec nohup "$@"' sh "$MOTO_PIDFILE" \
            "$MOTO_BIN" -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 </dev/null 9>&- &
        record_port s3 "$port"
    fi
    MOTO_PORT="$port"
}

wait_private_moto() {
    local i url
    url="$(private_url s3 "$MOTO_PORT")"
    for ((i = 0; i < 300; i++)); do
        if http_answers "$url/"; then return 0; fi
        if ((i > 10)) && ! pid_alive "$MOTO_PIDFILE" moto_server; then break; fi
        sleep 0.1
    done
    tail -n 20 "$MOTO_LOG" >&2 2>/dev/null || true
    die "private S3/moto on port $MOTO_PORT does not answer (log: $MOTO_LOG)"
}

# ---------------------------------------------------------------------------
# commands

write_env() { # pairs of NAME VALUE
    local tmp="$ENV_FILE.tmp.$$"
    (
        umask 077
        : >"$tmp"
    )
    while (($#)); do
        printf 'export %s=%s\n' "$1" "$(shell_quote "$2")" >>"$tmp"
        shift 2
    done
    mv -f "$tmp" "$ENV_FILE"
}

lock_state() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    flock -w 300 9 || die "another services.sh is busy with profile $PROFILE"
}

cmd_up() {
    exec 1>&2 # progress on stderr only; stdout stays empty
    lock_state
    rm -f "$ENV_FILE" # only a successful `up` leaves an env file behind
    local db_url="" admin_url="" redis_url="" s3_url="" ext
    local moto_launched=0

    # External services are checked before anything private is started.
    if ext="$(external_value redis REDIS_URL)"; then
        redis_url="$ext"
        external_redis_answers "$redis_url" ||
            die "REDIS_URL=$redis_url does not answer PING; start that Redis or unset REDIS_URL to use a private one"
        log "using external Redis at $redis_url"
    fi
    if ext="$(external_value pg DATABASE_URL)"; then
        db_url="$ext"
        external_pg_answers "$db_url" ||
            die "DATABASE_URL=$db_url does not answer (pg_isready); start that server or unset DATABASE_URL to use a private one"
        if ! admin_url="$(external_value pgadmin ADMIN_DATABASE_URL)"; then
            admin_url="$(with_database "$db_url" postgres)"
        fi
        log "using external Postgres at $db_url"
    fi
    if ext="$(external_value s3 S3_ENDPOINT_URL)"; then
        s3_url="$ext"
        log "using external S3 at $s3_url"
    fi

    # moto boots in the background while Redis and Postgres start.
    if [[ -z $s3_url ]]; then
        launch_private_moto
        moto_launched=1
        s3_url="$(private_url s3 "$MOTO_PORT")"
    fi
    if [[ -z $redis_url ]]; then
        start_private_redis
        redis_url="$(private_url redis "$REDIS_PORT")"
    fi
    if [[ -z $db_url ]]; then
        start_private_pg
        db_url="$(private_url pg "$PG_PORT")"
        admin_url="$(private_url pgadmin "$PG_PORT")"
    fi

    if ((moto_launched)); then wait_private_moto; fi

    write_env \
        DATABASE_URL "$db_url" \
        ADMIN_DATABASE_URL "$admin_url" \
        REDIS_URL "$redis_url" \
        S3_ENDPOINT_URL "$s3_url" \
        S3_BUCKET "${S3_BUCKET:-tawasul-documents}" \
        AWS_ACCESS_KEY_ID "${AWS_ACCESS_KEY_ID:-testing}" \
        AWS_SECRET_ACCESS_KEY "${AWS_SECRET_ACCESS_KEY:-testing}" \
        AWS_DEFAULT_REGION "${AWS_DEFAULT_REGION:-us-east-1}"
    log "ready: postgres $db_url | redis $redis_url | s3 $s3_url (env: ${ENV_FILE#"$ROOT"/})"
}

cmd_down() {
    if [[ ! -d $STATE ]]; then
        log "nothing to stop"
        return 0
    fi
    lock_state
    stop_private_pg
    kill_pidfile "$REDIS_PIDFILE" redis-server Redis
    kill_pidfile "$MOTO_PIDFILE" moto_server S3/moto
    rm -f "$ENV_FILE"
}

cmd_env() {
    [[ -r $ENV_FILE ]] ||
        die "${ENV_FILE#"$ROOT"/} does not exist; run: scripts/services.sh up --profile $PROFILE"
    cat "$ENV_FILE"
}

cmd_status() {
    local ok=0 url state ext port
    line() { printf '%-9s %-9s %-56s %s\n' "$1" "$2" "$3" "$4"; }
    updown() { if "$@"; then echo up; else echo down; fi; }

    if ext="$(external_value pg DATABASE_URL)"; then
        state="$(updown external_pg_answers "$ext")"
        line postgres external "$ext" "$state"
    else
        if pg_running; then port="$(pg_running_port)"; else port="$(recorded_port pg || default_port pg "$PROFILE")"; fi
        url="$(private_url pg "$port")"
        state=down
        if pg_running && external_pg_answers "$(libpq_url "$url")"; then state=up; fi
        line postgres private "$url" "$state"
    fi
    [[ $state == up ]] || ok=3

    if ext="$(external_value redis REDIS_URL)"; then
        state="$(updown external_redis_answers "$ext")"
        line redis external "$ext" "$state"
    else
        port="$(recorded_port redis || default_port redis "$PROFILE")"
        url="$(private_url redis "$port")"
        state=down
        if pid_alive "$REDIS_PIDFILE" redis-server && redis_ping 127.0.0.1 "$port"; then state=up; fi
        line redis private "$url" "$state"
    fi
    [[ $state == up ]] || ok=3

    if ext="$(external_value s3 S3_ENDPOINT_URL)"; then
        state="$(updown http_answers "$ext")"
        line s3 external "$ext" "$state"
    else
        port="$(recorded_port s3 || default_port s3 "$PROFILE")"
        url="$(private_url s3 "$port")"
        state=down
        if pid_alive "$MOTO_PIDFILE" moto_server && http_answers "$url/"; then state=up; fi
        line s3 private "$url" "$state"
    fi
    [[ $state == up ]] || ok=3
    return "$ok"
}

case "$CMD" in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
esac
