#!/usr/bin/env bash
# Print the built book (_build/html, from scripts/build-book.sh) to one PDF with Debian's
# chromium: every page of _toc.yml in order, a bookmark per chapter, maths typeset, GIFs as
# stills, widgets at their first figure, folded code shown. Writes _build/html/multidistral-book.pdf,
# which every page of the site links to. Installs what it needs first (.venv, chromium).
# Arguments go to scripts/book_pdf.py, for example
#   scripts/make-pdf.sh --html /tmp/build/_build/html --out /tmp/book.pdf
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

if ! command -v chromium >/dev/null; then
  echo "make-pdf: installing Debian's chromium" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq chromium
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi
fi

exec .venv/bin/python scripts/book_pdf.py "$@"
