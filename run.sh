#!/usr/bin/env bash
# Set up (first run only) and run backprop-grader on its embedded defaults.
#   ./run.sh                       the service (until `serve` lands: lists the exercises)
#   ./run.sh check FILE -e ID      any `backprop` command
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
if [ $# -eq 0 ]; then
  if .venv/bin/backprop serve --help >/dev/null 2>&1; then set -- serve; else set -- exercises; fi
fi
exec .venv/bin/backprop "$@"
