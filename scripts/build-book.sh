#!/usr/bin/env bash
# Build the book into _build/html: create .venv (scripts/setup.sh), vendor the front-end files,
# then run Jupyter Book on every page (--all), executing every chapter (execute_notebooks: force)
# against the current mdlib. Extra arguments go to
# `jupyter-book build`, for example
#   scripts/build-book.sh -W -n --keep-going     (the strict build the tests run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/vendor-assets.sh
jupyter_book=.venv/bin/jupyter-book

# Chapters run without a reader's kernel behind them: widgets leave out their live controls.
export MDLIB_STATIC_BOOK=1
# --all: also re-copy the static files and re-read unchanged pages; without it Sphinx skips
# both when no source changed, and a changed widget-shim.js or mdlib would not reach the site.
"$jupyter_book" build --all "$@" .
echo "build-book: open _build/html/index.html"
