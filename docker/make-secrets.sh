#!/usr/bin/env bash
# Writes the Docker secrets docker/compose.yaml expects, each a file of its own, the Kannel ones
# consistent with surveyd's. Run once; it never overwrites a secret that exists. Compose (without
# swarm) mounts each file as it is on the host, so the files are readable (0644) for the
# containers' non-root users, and the directory (0700) keeps everyone else on the host out.
#   docker/make-secrets.sh [DIR]          (DIR: docker/secrets)
set -euo pipefail
dir=${1:-"$(cd "$(dirname "$0")" && pwd)/secrets"}
mkdir -p "$dir"
chmod 700 "$dir"
umask 022

random() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }
hex() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
put() {  # put NAME VALUE: writes DIR/NAME unless it exists
  [ -e "$dir/$1" ] || printf '%s\n' "$2" >"$dir/$1"
}
value() { head -n 1 "$dir/$1"; }

put postgres_password "$(hex)"
put surveyd_database_url "postgresql://surveyd:$(value postgres_password)@postgres:5432/surveyd"
put surveyd_token_secret "$(random)"
put surveyd_phone_hash_key "$(random)"
put surveyd_phone_keys "k1:$(random)"
put surveyd_feed_secret "$(random)"
put surveyd_api_bootstrap_token "$(random)"
put surveyd_kannel_password "$(hex)"
# Letters and digits only: it travels in Kannel's URLs.
put surveyd_kannel_webhook_secret "$(hex)"
put kannel_admin.conf "admin-password = $(hex)"
put kannel_services.conf "$(cat <<CONF
# surveyd's account on smsbox (SURVEYD_KANNEL_USERNAME=surveyd, SURVEYD_KANNEL_PASSWORD).
group = sendsms-user
username = surveyd
password = $(value surveyd_kannel_password)
max-messages = 10
concatenation = true

# Citizens' replies go to surveyd; max-messages = 0: nothing is ever texted back from here.
group = sms-service
keyword = default
catch-all = true
get-url = "http://surveyd:8080/api/v1/gateway/kannel/inbound?secret=$(value surveyd_kannel_webhook_secret)&from=%p&to=%P&text=%a&id=%I&ts=%T"
max-messages = 0
omit-empty = true
CONF
)"
chmod 644 "$dir"/*
echo "secrets in $dir: $(cd "$dir" && ls | tr '\n' ' ')"
