#!/usr/bin/env bash
# The README's test command: set up (idempotent; fast when nothing changed), then run the suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
