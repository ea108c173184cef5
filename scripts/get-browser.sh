#!/bin/sh
# Installs Chromium (Debian's package) for the report's browser test when it is missing and we
# can; never fails: without it that one test skips with the reason.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "aegan: installing Chromium for the report test (apt-get install chromium)"
    if (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "aegan: Chromium not found; the browser test of 'aegan report' will skip (sudo apt-get install chromium)"
exit 0
