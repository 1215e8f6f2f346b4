#!/usr/bin/env bash
# Checks that a binary was built hardened: position independent (PIE), full RELRO (read-only
# relocations, bound at start), a stack protector, and _FORTIFY_SOURCE's checked calls.
#   tests/build/hardening_test.sh BINARY
set -euo pipefail
bin=${1:?usage: hardening_test.sh BINARY}
command -v readelf >/dev/null || { echo "FAIL: readelf (binutils) is missing" >&2; exit 1; }
failed=0
check() {  # check NAME COMMAND...
  if "${@:2}" >/dev/null 2>&1; then echo "ok    $1"; else echo "FAIL  $1"; failed=1; fi
}
check "PIE (ELF type DYN)" bash -c "readelf -h '$bin' | grep -q 'Type:.*DYN'"
check "RELRO segment" bash -c "readelf -l '$bin' | grep -q GNU_RELRO"
check "full RELRO (BIND_NOW)" bash -c "readelf -d '$bin' | grep -Eq 'BIND_NOW|FLAGS_1.*NOW'"
check "stack protector" bash -c "readelf --dyn-syms -W '$bin' | grep -q __stack_chk_fail"
check "_FORTIFY_SOURCE" bash -c "readelf --dyn-syms -W '$bin' | grep -Eq '__[a-z]+_chk(@|$)'"
check "no executable stack" bash -c "readelf -l -W '$bin' | grep GNU_STACK | grep -vq 'RWE'"
exit "$failed"
