#!/bin/sh
# Make the secrets of a distributed Ombud deployment (docs/deployment.md, "Keys and secrets"):
#   deploy/generate-secrets.sh [DIR]        (default: ./secrets, which docker-compose.yml reads)
# Never overwrites a file that exists: a new master or blind-index key on existing data makes every
# customer's personal data unreadable or unmatched. Needs openssl (1.1.1 or newer, for Ed25519).
set -eu
dir=${1:-secrets}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

make() { # make NAME COMMAND...: run COMMAND (writing to stdout) into DIR/NAME unless it exists
    name=$1
    shift
    if [ -e "$dir/$name" ]; then
        echo "kept      $dir/$name"
        return
    fi
    "$@" >"$dir/$name.tmp"
    mv "$dir/$name.tmp" "$dir/$name"
    echo "generated $dir/$name"
}
password() { openssl rand -base64 24 | tr -d '\n/+='; }

make master_key openssl rand -base64 32
make blind_index_key openssl rand -base64 32
make signing.pem openssl genpkey -algorithm ed25519
make auth.pem openssl genpkey -algorithm ed25519
for service in intake routing resolution feedback; do
    make "nats_${service}_password" password
done
make postgres_password password
# The services' connection URL, with that password (docker-compose.yml's PostgreSQL; another host: edit it).
make postgres_url sh -c "printf 'postgresql://ombud:%s@postgres:5432/ombud' \"\$(cat '$dir/postgres_password')\""

# docker compose bind-mounts these files into containers whose user (uid 10001) is not their owner:
# the files are world-readable, the folder is not (0700), so on this host only its owner reaches them.
chmod 644 "$dir"/*
echo "done: keep a copy of $dir in your secret store; see docs/deployment.md"
