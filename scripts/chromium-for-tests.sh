#!/usr/bin/env bash
# Make sure the browser for the mock dashboard's tests is here (tests/mock/test_dashboard_browser.py):
#
#   scripts/chromium-for-tests.sh
#
# The tests drive Debian's Chromium (/usr/bin/chromium, or $GONGJI_TEST_CHROMIUM) with
# Playwright for Python; Playwright's own browser download (`playwright install`) is never
# used. When the browser is missing and this runs as root with apt-get (CI), it installs
# the distribution's `chromium` package; otherwise it says how, and the browser tests skip
# (and fail under CI=true). Always exits 0: pytest reports what is missing.
set -uo pipefail

say() { echo "chromium-for-tests: $*" >&2; }

chromium="${GONGJI_TEST_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$chromium" ]]; then
    exit 0
fi
if [[ "$chromium" != /usr/bin/chromium ]]; then
    say "no browser at GONGJI_TEST_CHROMIUM=$chromium: the dashboard's browser tests skip"
    exit 0
fi
if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "no $chromium: the dashboard's browser tests skip (and fail under CI=true)."
    say "install it as root: apt-get update && apt-get install -y --no-install-recommends chromium"
    exit 0
fi
say "installing Chromium from the distribution's packages (a minute or two)"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >&2 &&
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold \
        chromium >&2; then
    say "$("$chromium" --version 2>/dev/null || echo "chromium installed")"
else
    say "apt-get could not install chromium: the dashboard's browser tests skip (and fail under CI=true)"
fi
exit 0
