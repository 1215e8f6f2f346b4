# Shared by scripts/demo, scripts/test and bench/: install what is missing, build.
# Source it; it sets ROOT (the checkout) and BUILD_DIR.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${SURVEYD_BUILD_DIR:-$ROOT/build}"

# Debian packages the build, the tests and the demo need.
SURVEYD_PACKAGES=(
  g++ cmake ninja-build pkg-config ccache
  libboost-dev libpqxx-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev
  postgresql postgresql-contrib tzdata curl ca-certificates openssl python3
  iproute2  # ss: the fault runs look at who holds which connection
  kannel kannel-extras
  faketime  # bench/soak.sh (soak_short): retention passes a day ahead; tests/fault/clock_skew_test.sh
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the missing packages among "$@" (needs root, or sudo).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures (once) and builds everything with the machine's cores.
build_all() {
  local type="${SURVEYD_BUILD_TYPE:-Check}"  # CMakeLists.txt says why
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    log "configuring ($type) in $BUILD_DIR"
    # shellcheck disable=SC2086 # SURVEYD_CMAKE_ARGS holds several arguments
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$type" ${SURVEYD_CMAKE_ARGS:-} >/dev/null
  fi
  log "building"
  cmake --build "$BUILD_DIR" -j "$(nproc)" "$@"
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# asan_runtime BINARY: the AddressSanitizer runtime BINARY is linked with, or nothing. A library
# preloaded into such a binary (libfaketime) must come after it, or the binary refuses to start.
asan_runtime() { ldd "$1" | awk '/libasan\.so/ {print $3}'; }
