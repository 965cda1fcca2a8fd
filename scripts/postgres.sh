#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests' second run: Debian's server (apt), a data folder in a
# temporary directory, listening on loopback only, stopped and removed when the script exits.
# Sourced by test.sh after bootstrap.sh (it uses apt_tool); not meant to be called on its own.
#
#   start_test_postgres   sets DOCSCOUT_TEST_DATABASE_URL and returns 0; returns 1, saying why,
#                         when no server can be installed (the caller skips the PostgreSQL run);
#                         exits the script when an installed server does not start (a failure)

_pg_dir=""
_pg_bin=""

# The newest server's bin folder: Debian keeps it off PATH, under /usr/lib/postgresql/N/bin.
_pg_find_bin() {
    local debian
    debian="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$debian" ] && [ -x "$debian/initdb" ]; then
        echo "$debian"
    elif command -v initdb >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

# Run a server command as the data folder's owner: postgres refuses to run as root.
_pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop_test_postgres() {
    [ -n "$_pg_dir" ] || return 0
    _pg_as_owner "$_pg_bin/pg_ctl" -D "$_pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$_pg_dir"
    _pg_dir=""
}

start_test_postgres() {
    _pg_bin="$(_pg_find_bin)"
    if [ -z "$_pg_bin" ]; then
        apt_tool initdb postgresql "the tests will not run a second time on PostgreSQL"
        _pg_bin="$(_pg_find_bin)"
    fi
    if [ -z "$_pg_bin" ]; then
        echo "note: skipping the PostgreSQL run: no PostgreSQL server could be installed" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "note: skipping the PostgreSQL run: running as root and there is no postgres user" \
             "to own the server" >&2
        return 1
    fi
    _pg_dir="$(mktemp -d /tmp/docscout-pg.XXXXXX)"  # /tmp: the postgres user can reach it
    [ "$(id -u)" != 0 ] || chown postgres: "$_pg_dir"
    trap stop_test_postgres EXIT
    local port
    port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # A test server: trust on loopback, no fsync (its data is thrown away at exit).
    if ! _pg_as_owner "$_pg_bin/initdb" -D "$_pg_dir/data" -U docscout -A trust -E UTF8 \
            --no-locale --no-sync >"$_pg_dir/initdb.log" 2>&1 \
        || ! _pg_as_owner "$_pg_bin/pg_ctl" -D "$_pg_dir/data" -l "$_pg_dir/server.log" -w \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $_pg_dir -c fsync=off \
                -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
        || ! "$_pg_bin/createdb" -h 127.0.0.1 -p "$port" -U docscout docscout_test; then
        echo "error: the PostgreSQL test server did not start:" >&2
        tail -n 5 "$_pg_dir"/*.log >&2 || true
        stop_test_postgres
        exit 1
    fi
    export DOCSCOUT_TEST_DATABASE_URL="postgresql+psycopg://docscout@127.0.0.1:$port/docscout_test"
    echo "PostgreSQL $("$_pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" \
         "(throwaway data folder $_pg_dir)"
}
