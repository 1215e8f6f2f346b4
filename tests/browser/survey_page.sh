#!/usr/bin/env bash
# Checks a live survey page in headless Chromium, as a phone would show it:
#   tests/browser/survey_page.sh URL [SCREENSHOT.png]
# Takes a 390px-wide screenshot and checks the rendered DOM: the page language, five question
# fieldsets, 60 radio buttons (0-10 and "prefer not to say", which posts the question blank, each),
# a comment box limited to 2,000 characters, one submit button, and no script. Exits non-zero, naming what is wrong, when a check fails.
# CHROMIUM overrides the browser (default: chromium, Debian's package).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 URL [SCREENSHOT.png]" >&2
  exit 2
fi
url=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
screenshot=${2:-$work/survey_page.png}
browser=${CHROMIUM:-chromium}

if ! command -v "$browser" >/dev/null 2>&1; then
  echo "survey_page.sh: $browser not found (apt-get install -y chromium)" >&2
  exit 2
fi

run_chromium() {
  # A fresh profile each run, and no network use besides the page itself.
  timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --hide-scrollbars --user-data-dir="$(mktemp -d -p "$work")" "$@"
}

run_chromium --window-size=390,1600 --screenshot="$screenshot" "$url" >"$work/shot.log" 2>&1 || {
  cat "$work/shot.log" >&2
  echo "survey_page.sh: screenshot failed" >&2
  exit 1
}
[[ -s $screenshot ]] || { echo "survey_page.sh: no screenshot written" >&2; exit 1; }

run_chromium --window-size=390,844 --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.log" || {
  cat "$work/dom.log" >&2
  echo "survey_page.sh: --dump-dom failed" >&2
  exit 1
}
dom=$work/dom.html

failures=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected $2, got $3"
    failures=$((failures + 1))
  fi
}
count() { grep -o -i -E "$1" "$dom" | wc -l | tr -d ' '; }

# Chromium serialises the DOM with one tag per match, attributes as the page wrote them.
lang=$(grep -o -i -E '<html[^>]* lang="[a-z]{2}(-[A-Za-z]+)?"' "$dom" | head -1 | sed -E 's/.*lang="([^"]+)".*/\1/')
check "html lang attribute" "yes" "$([[ -n $lang ]] && echo yes || echo no)"
check "five question fieldsets" 5 "$(count '<fieldset[ >]')"
check "five legends" 5 "$(count '<legend[ >]')"
check "60 radio buttons" 60 "$(count '<input[^>]*type="radio"')"
check "radio values 0-10 per question" 5 "$(count '<input[^>]*type="radio"[^>]*value="10"')"
# A tapped score can be taken back without JavaScript: a blank choice in each question's group.
check "a 'prefer not to say' radio per question" 5 "$(count '<input[^>]*type="radio"[^>]*value=""')"
check "each with a label" 5 "$(count '<label[^>]*for="q[1-5]-skip"')"
check "one textarea" 1 "$(count '<textarea[ >]')"
check "textarea maxlength 2000" 1 "$(count '<textarea[^>]*maxlength="2000"')"
check "textarea has a label" 1 "$(count '<label[^>]*for="comment"')"
check "one submit button" 1 "$(count '<button[^>]*type="submit"')"
check "form posts" 1 "$(count '<form[^>]*method="post"')"
check "viewport meta" 1 "$(count '<meta[^>]*name="viewport"')"
check "no script" 0 "$(count '<script')"
check "no external stylesheet" 0 "$(count '<link[^>]*stylesheet')"

echo "screenshot: $screenshot (lang=$lang)"
if [[ $failures -gt 0 ]]; then
  echo "survey_page.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "survey_page.sh: all checks passed"
