#!/usr/bin/env bash
# Build the book into _build/html: create .venv (scripts/setup.sh), vendor the front-end files,
# then run Jupyter Book on every page (--all). Chapters run through jupyter-cache: a chapter whose
# code is unchanged is not executed again, unless mdlib (or what is installed) changed since the
# cached runs, in which case the cache is emptied and every chapter runs against the current
# library. Extra arguments go to
# `jupyter-book build`, for example
#   scripts/build-book.sh -W -n --keep-going     (the strict build the tests run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/vendor-assets.sh
jupyter_book=.venv/bin/jupyter-book

# The execution cache only notices changed notebook code; results also depend on mdlib.
source_hash=$(find mdlib -name '*.py' -o -name '*.txt' -o -name '*.csv' | LC_ALL=C sort | xargs cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
stamp=_build/.mdlib-source-hash
if [[ ! -f $stamp || "$(cat "$stamp")" != "$source_hash" ]]; then
    echo "build-book: mdlib changed since the cached runs (or no cache yet): every chapter will execute"
    rm -rf _build/.jupyter_cache
    mkdir -p _build && echo "$source_hash" > "$stamp"
fi

# Chapters run without a reader's kernel behind them: widgets leave out their live controls.
export MDLIB_STATIC_BOOK=1
# --all: also re-copy the static files and re-read unchanged pages; without it Sphinx skips
# both when no source changed, and a changed widget-shim.js or mdlib would not reach the site.
"$jupyter_book" build --all "$@" .
echo "build-book: open _build/html/index.html"
