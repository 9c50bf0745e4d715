#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: the machine's PostgreSQL binaries (installed with apt if
# absent), a new cluster in a temp dir, a free port on 127.0.0.1, fsync off; stopped and removed at the end.
# The command sees RTM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres and, for the TLS
# tests (the server accepts TLS and plaintext), RTM_TEST_POSTGRES_CA, the root of its certificate.
set -euo pipefail
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
pgbin=$(find_bin)
if [ -z "$pgbin" ]; then
  if command -v apt-get >/dev/null; then
    echo "with-postgres: installing PostgreSQL with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin=$(find_bin)
  fi
fi
if [ -z "$pgbin" ]; then
  echo "with-postgres: ERROR: no PostgreSQL binaries and no way to install them; the PostgreSQL tests cannot run." >&2
  exit 1
fi
dir=$(mktemp -d)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# TLS for the sslmode tests: a throwaway CA and a server certificate for localhost and 127.0.0.1.
if ! command -v openssl >/dev/null && command -v apt-get >/dev/null; then
  echo "with-postgres: installing openssl with apt-get" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
command -v openssl >/dev/null || { echo "with-postgres: ERROR: openssl is needed for the TLS certificates" >&2; exit 1; }
tls="$dir/tls"; mkdir -p "$tls"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=swift-rtm test CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
  -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
chmod 600 "$tls/server.key"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$tls"
as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/server.key" start >/dev/null
echo "with-postgres: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
export RTM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
export RTM_TEST_POSTGRES_CA="$tls/ca.pem"   # the root that signed the server's certificate (TLS on, plaintext allowed)
"$@"
