#!/bin/sh
# Installs Chromium and its WebDriver (Debian's chromium and chromium-driver) for the browser tests
# of 'aegan report' and 'aegan explore' when they are missing and we can; never fails: without them
# those tests skip with the reason.
if { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } \
   && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "aegan: installing Chromium for the browser tests (apt-get install chromium chromium-driver)"
    if (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "aegan: Chromium or chromedriver not found; the browser tests will skip (sudo apt-get install chromium chromium-driver)"
exit 0
