#!/usr/bin/env bash
# Install everything the tests need (first run only) and run the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh -k corpus -x
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh test
bash scripts/services.sh
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when it collected no tests: that is a failure of the suite, not a pass.
[ $rc -eq 5 ] && echo "test.sh: no tests were collected" >&2
exit $rc
