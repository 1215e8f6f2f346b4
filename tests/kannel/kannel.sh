# A real Kannel on loopback for tests and the demo: bearerbox, smsbox and fakesmsc (Kannel's own
# stand-in for the mobile network), from Debian's kannel and kannel-extras. Source it, then:
#
#   kannel_start DIR CALLBACK_BASE SECRET    # writes DIR/kannel.conf, starts the three
#   kannel_send_url                          # smsbox's sendsms URL (after kannel_start)
#   kannel_received DIR                      # the lines fakesmsc received, "from to text ..."
#   kannel_wait_received DIR COUNT [SECONDS] # waits until fakesmsc received COUNT messages
#   kannel_inject DIR "FROM TO text WORDS"   # a citizen's text through fakesmsc (also "ucs2 ...")
#   kannel_stop DIR                          # stops what kannel_start started
#
# CALLBACK_BASE is where the sms-service get-url points ({CALLBACK_BASE}/api/v1/gateway/kannel/
# inbound?secret=SECRET&from=%p&to=%P&text=%a); DLRs go wherever each send's dlr-url says.
# Exports KANNEL_SENDSMS_URL, KANNEL_USERNAME, KANNEL_PASSWORD. Every port is a free one on
# 127.0.0.1. Needs free_port and log from scripts/lib/common.sh.

KANNEL_FAKESMSC=/usr/lib/kannel/test/fakesmsc

# bearerbox and smsbox refuse nothing as root, but a box that misbehaves should not run as root:
# use the kannel user the package creates when we are root.
# exec: started in the background, the box itself has the pid $! names.
_kannel_run_as() {
  if [ "$(id -u)" = 0 ] && id kannel >/dev/null 2>&1; then
    exec setpriv --reuid="$(id -u kannel)" --regid="$(id -g kannel)" --init-groups -- "$@"
  else
    exec "$@"
  fi
}

_kannel_wait_port() {  # PORT SECONDS
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

_kannel_wait_log() {  # FILE PATTERN SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

kannel_start() {
  local dir=$1 callback_base=$2 secret=$3
  for binary in /usr/sbin/bearerbox /usr/sbin/smsbox "$KANNEL_FAKESMSC"; do
    if [ ! -x "$binary" ]; then
      echo "kannel.sh: $binary is missing: install Debian's kannel and kannel-extras" >&2
      return 1
    fi
  done
  mkdir -p "$dir"
  chmod 777 "$dir"  # the boxes may run as the kannel user
  local admin_port smsbox_port fake_port sendsms_port
  admin_port=$(free_port)
  smsbox_port=$(free_port)
  fake_port=$(free_port)
  sendsms_port=$(free_port)
  KANNEL_USERNAME=surveyd
  KANNEL_PASSWORD=$(random_secret)
  KANNEL_SENDSMS_URL="http://127.0.0.1:$sendsms_port/cgi-bin/sendsms"
  export KANNEL_USERNAME KANNEL_PASSWORD KANNEL_SENDSMS_URL
  echo "$fake_port" >"$dir/fake_port"

  cat >"$dir/kannel.conf" <<CONF
group = core
admin-port = $admin_port
admin-interface = 127.0.0.1
admin-password = $(random_secret)
admin-allow-ip = "127.0.0.1"
smsbox-port = $smsbox_port
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "$dir/bearerbox.log"
log-level = 0
access-log = "$dir/bearerbox-access.log"
dlr-storage = internal

# fakesmsc plays the mobile network: bearerbox listens, fakesmsc connects.
group = smsc
smsc = fake
smsc-id = fake
port = $fake_port
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $smsbox_port
sendsms-port = $sendsms_port
sendsms-interface = 127.0.0.1
log-file = "$dir/smsbox.log"
log-level = 0
access-log = "$dir/smsbox-access.log"
# Replies sent as UCS-2 reach the get-url as UTF-8.
mo-recode = true

group = sendsms-user
username = $KANNEL_USERNAME
password = $KANNEL_PASSWORD
user-deny-ip = "*.*.*.*"
user-allow-ip = "127.0.0.1"
max-messages = 10
concatenation = true

# Citizens' replies. max-messages = 0: whatever we answer is never texted back.
group = sms-service
keyword = default
catch-all = true
get-url = "$callback_base/api/v1/gateway/kannel/inbound?secret=$secret&from=%p&to=%P&text=%a&id=%I&ts=%T"
max-messages = 0
omit-empty = true
CONF
  chmod 644 "$dir/kannel.conf"

  _kannel_run_as /usr/sbin/bearerbox -v 0 "$dir/kannel.conf" >"$dir/bearerbox.out" 2>&1 &
  echo $! >"$dir/bearerbox.pid"
  if ! _kannel_wait_port "$smsbox_port" 15 || ! _kannel_wait_port "$fake_port" 15; then
    echo "kannel.sh: bearerbox did not start; its log:" >&2
    tail -20 "$dir/bearerbox.out" "$dir/bearerbox.log" >&2 2>/dev/null
    return 1
  fi
  _kannel_start_fakesmsc "$dir" 0 "0 0 text nothing"
  _kannel_run_as /usr/sbin/smsbox -v 0 "$dir/kannel.conf" >"$dir/smsbox.out" 2>&1 &
  echo $! >"$dir/smsbox.pid"
  if ! _kannel_wait_port "$sendsms_port" 15; then
    echo "kannel.sh: smsbox did not start; its log:" >&2
    tail -20 "$dir/smsbox.out" "$dir/smsbox.log" >&2 2>/dev/null
    return 1
  fi
  # bearerbox takes sends only once the SMSC is connected (else they queue): wait for it.
  if ! _kannel_wait_log "$dir/bearerbox.log" "Fakesmsc client connected" 15; then
    echo "kannel.sh: fakesmsc did not connect to bearerbox" >&2
    return 1
  fi
  log "kannel: sendsms on $KANNEL_SENDSMS_URL, fakesmsc on port $fake_port"
}

kannel_send_url() { echo "$KANNEL_SENDSMS_URL"; }

# fakesmsc sends its MAX messages on connecting, then prints what bearerbox sends it (-v 0
# prints every "Got message"). Output is appended so every run's receipts are kept.
_kannel_start_fakesmsc() {  # DIR MAX MESSAGE
  local dir=$1
  "$KANNEL_FAKESMSC" -v 0 -H 127.0.0.1 -r "$(cat "$dir/fake_port")" -i 0 -m "$2" "$3" \
    >>"$dir/fakesmsc.log" 2>&1 &
  echo $! >"$dir/fakesmsc.pid"
}

_kannel_kill() {  # PIDFILE
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  rm -f "$1"
  kill -INT "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# One message from the network: fakesmsc connects anew, sends it, then stays to receive.
kannel_inject() {  # DIR MESSAGE
  local dir=$1
  local before
  before=$(grep -c "Fakesmsc client connected" "$dir/bearerbox.log" 2>/dev/null || echo 0)
  _kannel_kill "$dir/fakesmsc.pid"
  _kannel_start_fakesmsc "$dir" 1 "$2"
  local deadline=$((SECONDS + 15))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(grep -c "Fakesmsc client connected" "$dir/bearerbox.log")" -gt "$before" ] && return 0
    sleep 0.1
  done
  echo "kannel.sh: fakesmsc did not reconnect" >&2
  return 1
}

# "Got message 1: <+447700900123 ... text ...>" -> the part in angle brackets.
kannel_received() {
  sed -n 's/.*Got message [0-9]*: <\(.*\)>$/\1/p' "$1/fakesmsc.log" 2>/dev/null
}

kannel_wait_received() {  # DIR COUNT [SECONDS]
  local deadline=$((SECONDS + ${3:-15}))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(kannel_received "$1" | wc -l)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

kannel_stop() {
  local dir=$1
  _kannel_kill "$dir/smsbox.pid"
  _kannel_kill "$dir/fakesmsc.pid"
  _kannel_kill "$dir/bearerbox.pid"
}
