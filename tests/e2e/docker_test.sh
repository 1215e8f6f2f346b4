#!/usr/bin/env bash
# docker/ without a Docker engine: what the images and compose.yaml promise, checked in the files,
# and what they run, run here with the same command lines. Host names and ports are the only
# things changed (postgres -> the test's database, smsbox/bearerbox -> 127.0.0.1 on free ports,
# /run/secrets -> a folder of the test's own).
#   - The Dockerfile builds in two stages (Debian 12, then Debian 12 slim), runs as a non-root
#     user, and its health check asks /readyz. Its build stage copies all the daemon's build
#     needs: a tree of only those paths configures (CMake refuses a missing source or web/), and
#     .dockerignore keeps build folders, the demo's data and the secrets out of the context.
#   - compose.yaml publishes nothing on all interfaces, gives every service a health check
#     (surveyd's asks /readyz), mounts config/ where the image's configuration is, and every
#     secret it names exists once make-secrets.sh has run.
#   - make-secrets.sh writes them, Kannel's consistent with surveyd's, never overwriting.
#   - bearerbox and smsbox start with docker/kannel/kannel.conf and those secrets; smsbox takes
#     surveyd's credentials and refuses others.
#   - surveyd, with the image's environment, compose's and the example env file, finds its
#     secrets in the secrets folder by name, passes `config check`, serves (the health check
#     command says ready) and stops with exit 0 on SIGTERM.
#   tests/e2e/docker_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"
ensure_packages python3 python3-yaml kannel
docker="$SRC/docker"

# --- The files ---------------------------------------------------------------------------------
python3 - "$docker" <<'EOF' || fail "docker/ does not keep its promises"
import sys, yaml
docker = sys.argv[1]
lines = [l.strip() for l in open(f"{docker}/Dockerfile") if l.strip() and not l.startswith("#")]
froms = [l for l in lines if l.startswith("FROM ")]
assert froms == ["FROM debian:12 AS build", "FROM debian:12-slim"], froms
final = lines[lines.index(froms[-1]):]
users = [l.split()[1] for l in final if l.startswith("USER ")]
assert users and not users[-1].startswith(("0", "root")), f"runs as {users}"
health = " ".join(l for l in final if "readyz" in l)
assert "HEALTHCHECK" in " ".join(final) and "/readyz" in health, "HEALTHCHECK does not ask /readyz"

compose = yaml.safe_load(open(f"{docker}/compose.yaml"))
for name, service in compose["services"].items():
    for port in service.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert "healthcheck" in service, f"{name} has no health check"
    for secret in service.get("secrets", []):
        assert secret in compose["secrets"], f"{name} uses an undeclared secret {secret}"
assert "/readyz" in " ".join(compose["services"]["surveyd"]["healthcheck"]["test"])
# The rules ops edit are the repository's config/, read where the image's configuration is.
assert "../config:/etc/surveyd:ro" in compose["services"]["surveyd"].get("volumes", []), \
    "surveyd does not read config/"
assert not any(l.startswith("ENV") and "SURVEYD_RULES" in l for l in final), \
    "the image overrides the rules path of a mounted surveyd.yaml"
assert {"postgres", "bearerbox", "smsbox", "surveyd"} <= set(compose["services"])
EOF
# The build stage has only what it copies.
context="$work/build-context"
mkdir -p "$context"
for path in $(awk '/^FROM .* AS build/ {b = 1; next} /^FROM / {b = 0}
                   b && /^COPY / {for (i = 2; i < NF; i++) print $i}' "$docker/Dockerfile"); do
  cp -r "$SRC/$path" "$context/"
done
cmake -S "$context" -B "$context/build" -DSURVEYD_BUILD_TESTS=OFF -DSURVEYD_FAILPOINTS=OFF \
  >"$work/cmake.log" 2>&1 || fail "the build stage lacks what the build needs: $(grep -m3 -i error -A2 "$work/cmake.log")"
for ignored in build .run docker/secrets; do
  grep -Fqx -e "$ignored" -e "$ignored/" -e "$ignored*" "$SRC/.dockerignore" ||
    fail ".dockerignore does not leave out $ignored"
done

python3 - "$docker" >"$work/compose.json" <<'EOF'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1] + "/compose.yaml"))
s = c["services"]
print(json.dumps({"secrets": {k: v["file"] for k, v in c["secrets"].items()},
                  "env": s["surveyd"]["environment"], "secret_names": s["surveyd"]["secrets"],
                  "health": s["surveyd"]["healthcheck"]["test"][1:],
                  "bearerbox": s["bearerbox"]["command"], "smsbox": s["smsbox"]["command"]}))
EOF
field() { python3 -c "import json,sys; print(json.load(open('$work/compose.json'))$1)"; }

# --- The secrets ------------------------------------------------------------------------------
secrets="$work/secrets"
bash "$docker/make-secrets.sh" "$secrets" >/dev/null || fail "make-secrets.sh failed"
for file in $(python3 -c "import json; print(' '.join(json.load(open('$work/compose.json'))['secrets'].values()))"); do
  [ -s "$secrets/$(basename "$file")" ] || fail "make-secrets.sh did not write $(basename "$file")"
done
before=$(cat "$secrets"/* | md5sum)
bash "$docker/make-secrets.sh" "$secrets" >/dev/null
[ "$(cat "$secrets"/* | md5sum)" = "$before" ] || fail "make-secrets.sh overwrote secrets"
grep -q "password = $(cat "$secrets/surveyd_kannel_password")$" "$secrets/kannel_services.conf" ||
  fail "Kannel's sendsms-user password is not surveyd's"
grep -q "secret=$(cat "$secrets/surveyd_kannel_webhook_secret")&" "$secrets/kannel_services.conf" ||
  fail "Kannel's reply URL does not carry surveyd's webhook secret"

# --- Kannel, with the shipped configuration ---------------------------------------------------
admin_port=$(free_port); box_port=$(free_port); sendsms_port=$(free_port); fake_port=$(free_port)
port=$(free_port)
mkdir -p "$work/kannel"
chmod 777 "$work/kannel"
sed -e "s#/run/secrets/#$secrets/#; s#/var/log/kannel/#$work/kannel/#" \
  -e "s/= 13000$/= $admin_port/; s/= 13001$/= $box_port/; s/= 13013$/= $sendsms_port/" \
  -e "s/= 13015$/= $fake_port/; s/bearerbox-host = bearerbox/bearerbox-host = 127.0.0.1/" \
  -e "s#http://surveyd:8080#http://127.0.0.1:$port#" "$docker/kannel/kannel.conf" >"$work/kannel/kannel.conf"
sed -i "s#http://surveyd:8080#http://127.0.0.1:$port#" "$secrets/kannel_services.conf"
chmod 644 "$work/kannel/kannel.conf"
run_box() {  # the compose service's command, the configuration path swapped for ours
  local cmd
  cmd=$(field "['$1']" | tr -d "[],'")
  # shellcheck disable=SC2086
  ${cmd/\/etc\/kannel\/kannel.conf/$work/kannel/kannel.conf} >"$work/$1.log" 2>&1 &
  pids+=($!)
}
run_box bearerbox
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$admin_port/status" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$admin_port/status" || fail "bearerbox did not start: $(tail -3 "$work/bearerbox.log")"
run_box smsbox
sendsms="http://127.0.0.1:$sendsms_port/cgi-bin/sendsms"
for _ in $(seq 1 50); do curl -s -o /dev/null "$sendsms" && break; sleep 0.1; done
answer=$(curl -s "$sendsms?username=surveyd&password=$(cat "$secrets/surveyd_kannel_password")&from=Police&to=447700900001&text=test")
[[ $answer == *"Accepted for delivery"* || $answer == *"Queued for later delivery"* ]] ||
  fail "smsbox refused surveyd's credentials: $answer"
answer=$(curl -s "$sendsms?username=surveyd&password=wrong&from=Police&to=447700900001&text=test")
[[ $answer == *"Authorization failed"* ]] || fail "smsbox took a wrong password: $answer"

# --- surveyd, as the image and compose run it -------------------------------------------------
url=$(new_database "docker_$$_$RANDOM")
echo "$url" >"$secrets/surveyd_database_url"
# The image's ENV, compose's environment, the example env file. The secrets folder stands in for
# /run/secrets as $CREDENTIALS_DIRECTORY: the same look-up by name (config_test covers both).
env_args=(SURVEYD_HTTP_LISTEN="127.0.0.1:$port" CREDENTIALS_DIRECTORY="$secrets")
while IFS='=' read -r name value; do
  [[ -z $name || $name == \#* ]] && continue
  env_args+=("$name=$value")
done <"$docker/surveyd.env.example"
while read -r pair; do
  pair=${pair/smsbox:13013/127.0.0.1:$sendsms_port}
  env_args+=("${pair/surveyd:8080/127.0.0.1:$port}")
done < <(python3 -c "import json; [print(f'{k}={v}') for k, v in json.load(open('$work/compose.json'))['env'].items()]")
env_args+=(SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port")
# Only what the test sets: nothing from the calling environment leaks into surveyd's.
clean=(env -i PATH="$PATH")
"${clean[@]}" "${env_args[@]}" "$BUILD/surveyd" config check -c "$SRC/config/surveyd.yaml" \
  >"$work/check.txt" 2>&1 || fail "config check refused compose's setup: $(cat "$work/check.txt")"
grep -q "gateway kannel" "$work/check.txt" || fail "config check: $(cat "$work/check.txt")"
"${clean[@]}" "${env_args[@]}" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pid=$!
pids+=($pid)
health=$(field "['health']" | tr -d "[],'" | sed "s#127.0.0.1:8080#127.0.0.1:$port#")
healthy=0
for _ in $(seq 1 100); do
  # shellcheck disable=SC2086
  if $health; then healthy=1; break; fi
  sleep 0.1
done
[ "$healthy" = 1 ] || fail "compose's health check never passed: $(tail -5 "$work/surveyd.log")"
grep -q '"msg":"rules: ' "$work/surveyd.log" || fail "the example env file's JSON logs are not on"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "surveyd exited $rc on SIGTERM (docker stop)"
echo "docker: Dockerfile and compose.yaml as promised; make-secrets.sh; Kannel and surveyd run with them, healthy, stopped cleanly: 1 passed, 0 failed"
