#!/usr/bin/env bash
# Saves a screenshot of the coordinator dashboard served on 127.0.0.1:PORT, taken by headless
# Chromium, so the page can be checked as a person sees it.
#
#   scripts/dashboard-screenshot.sh PORT OUT.png
#
# DASHBOARD_WINDOW=WIDTH,HEIGHT changes the window (default 1280,1000), e.g. to see the whole page.
# Installs Debian's chromium first when it is missing.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 PORT OUT.png" >&2
    exit 64
fi
port=$1
out=$2

"$(dirname "$0")/install-deps.sh" chromium >&2

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"

# Chromium is chatty on stderr even when all goes well: keep its output for failures only.
status=0
timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$profile" --window-size="${DASHBOARD_WINDOW:-1280,1000}" --screenshot="$out" \
    "http://127.0.0.1:$port/" >"$profile/chromium.log" 2>&1 || status=$?

if [[ ! -s $out ]]; then
    echo "chromium (exit $status) wrote no screenshot to $out; its output:" >&2
    cat "$profile/chromium.log" >&2
    exit 1
fi
echo "$out"
