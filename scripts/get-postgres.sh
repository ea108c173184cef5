#!/bin/sh
# Installs PostgreSQL (Debian's package) for the test of 'aegan tune --storage postgresql://...' when
# it is missing and we can; never fails: without it that one test skips with the reason.
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "aegan: installing PostgreSQL for the shared-study test (apt-get install postgresql)"
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "aegan: PostgreSQL not found; the test of a study shared through PostgreSQL will skip (sudo apt-get install postgresql)"
exit 0
