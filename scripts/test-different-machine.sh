#!/usr/bin/env bash
# Strict nbval over every chapter again, on a "different machine": this one made to compute like
# an older CPU (scripts/different-machine.env: other BLAS kernels, no numpy SIMD dispatch, libm
# without FMA, numba for a generic CPU). The committed outputs must reproduce there too, as they
# must on every reader's machine. Part of scripts/test.sh; arguments: the notebooks (default: all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
set -a
# shellcheck source=scripts/different-machine.env
source scripts/different-machine.env
set +a
start=$SECONDS
status=0
.venv/bin/python -m pytest -n 2 --dist loadfile -p no:cacheprovider --nbval "${@:-notebooks}" \
  --nbval-sanitize-with tests/nbval-sanitize.cfg || status=$?
echo "different machine: strict nbval over every chapter took $((SECONDS - start)) s (exit $status)"
exit "$status"
