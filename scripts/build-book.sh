#!/usr/bin/env bash
# Build the book into _build/html: create .venv (scripts/setup.sh), vendor the front-end files,
# then run Jupyter Book on every page (--all). Chapters are shown as committed, executed (see
# _config.yml: the test suite checks with strict nbval that a fresh execution gives the same
# outputs); to execute a chapter again, scripts/execute-notebooks.sh. Extra arguments go to
# `jupyter-book build`, for example
#   scripts/build-book.sh -W -n --keep-going     (the strict build the tests run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/vendor-assets.sh
jupyter_book=.venv/bin/jupyter-book

# --all: also re-copy the static files and re-read unchanged pages; without it Sphinx skips
# both when no source changed, and a changed widget-shim.js would not reach the site.
"$jupyter_book" build --all "$@" .
echo "build-book: open _build/html/index.html"
