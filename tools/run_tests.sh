#!/usr/bin/env bash
# README command 2: set up the environment if needed, then run the whole test suite.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -k metric -x`.
set -eo pipefail
cd "$(dirname "$0")/.."
. tools/env.sh
exec python -m pytest tests "$@"
