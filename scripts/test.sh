#!/usr/bin/env bash
# Run the whole test suite: mdlib's tests, strict nbval over every notebook, the strict book build
# and the browser test of the built site; then strict nbval once more on a "different machine"
# (scripts/test-different-machine.sh). Installs what it needs first (.venv from the lock file,
# front-end assets, Debian's chromium). Extra arguments go to pytest and skip the second stage.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/vendor-assets.sh

if ! command -v chromium >/dev/null; then
  echo "test: installing Debian's chromium for the browser test" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq chromium
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi
fi

start=$SECONDS
.venv/bin/python -m pytest -n 2 --dist loadfile --durations=30 --nbval \
  --nbval-sanitize-with tests/nbval-sanitize.cfg "$@"
echo "test: the suite took $((SECONDS - start)) s"
if [ "$#" -eq 0 ]; then
  bash scripts/test-different-machine.sh
fi
