#!/usr/bin/env bash
# Run a command next to a throwaway PostgreSQL server, for the journal tests:
#
#   scripts/postgres-for-tests.sh .venv/bin/python -m pytest tests/journal
#
# Creates a cluster in a temporary directory, starts it on 127.0.0.1 on a free port,
# exports GONGJI_TEST_POSTGRES_DSN to the command, and stops the server and removes the
# directory afterwards, whatever the command's outcome. Exits with the command's status.
#
# - GONGJI_TEST_POSTGRES_DSN already set: the command runs against that server as it is.
# - GONGJI_TEST_POSTGRES=off: no server; the PostgreSQL tests skip (and fail under CI=true).
# - GONGJI_TEST_POSTGRES_FSYNC=on: the server syncs its WAL (for benchmarks); else fsync=off.
# - No PostgreSQL here: as root (CI), it is installed from the distribution's packages
#   (apt-get, without creating the distribution's default cluster); otherwise the command
#   runs without a server, and the PostgreSQL tests skip (and fail under CI=true).
#
# initdb refuses to run as root: as root the cluster belongs to the postgres user (or
# nobody) and the server runs as that user.
set -euo pipefail

say() { echo "postgres-for-tests: $*" >&2; }

if [[ $# -eq 0 ]]; then
    say "usage: $0 COMMAND [ARGS...]"
    exit 2
fi
if [[ -n "${GONGJI_TEST_POSTGRES_DSN:-}" ]]; then
    exec "$@"
fi
if [[ "${GONGJI_TEST_POSTGRES:-}" == "off" ]]; then
    say "GONGJI_TEST_POSTGRES=off: no server; the PostgreSQL tests skip"
    exec "$@"
fi

find_bindir() {
    local dir
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1 || return 1
    say "installing PostgreSQL from the distribution's packages"
    # The tests make their own cluster: the package need not create and start one.
    mkdir -p /etc/postgresql-common
    if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold \
        postgresql >&2
}

bindir="$(find_bindir || true)"
if [[ -z "$bindir" ]]; then
    install_postgres || true
    bindir="$(find_bindir || true)"
fi
if [[ -z "$bindir" ]]; then
    say "no PostgreSQL here (and not root with apt-get to install it): the PostgreSQL tests skip"
    exec "$@"
fi

run_as=()
owner="$(id -un)"
if [[ "$(id -u)" -eq 0 ]]; then
    owner=nobody
    if id postgres >/dev/null 2>&1; then
        owner=postgres
    fi
    run_as=(runuser -u "$owner" --)
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/gongji-postgres.XXXXXX")"
chmod 700 "$workdir"
chown "$owner" "$workdir"

stop() {
    if [[ -f "$workdir/data/postmaster.pid" ]]; then
        (cd "$workdir" && "${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate -w stop) \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$workdir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

(cd "$workdir" && "${run_as[@]}" "$bindir/initdb" -D "$workdir/data" -U gongji -A trust \
    -E UTF8 --locale=C --no-sync) >"$workdir/initdb.log" 2>&1 || {
    cat "$workdir/initdb.log" >&2
    say "initdb failed"
    exit 1
}

# A test server: fsync off (the tests prove the journal's logic, not this disk), unless
# GONGJI_TEST_POSTGRES_FSYNC=on (make bench: a benchmark measures the durable commits).
fsync="off"
[[ "${GONGJI_TEST_POSTGRES_FSYNC:-}" == "on" ]] && fsync="on"
started=""
for _ in 1 2 3; do
    port="$(free_port)"
    if (cd "$workdir" && "${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" \
        -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=$fsync" start) \
        >/dev/null 2>&1; then
        started=yes
        break
    fi
done
if [[ -z "$started" ]]; then
    cat "$workdir/server.log" >&2 || true
    say "the server did not start"
    exit 1
fi

export GONGJI_TEST_POSTGRES_DSN="postgresql://gongji@127.0.0.1:$port/postgres"
say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
status=0
"$@" || status=$?
exit "$status"
