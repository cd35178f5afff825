#!/usr/bin/env bash
# Execute chapters in place, as they are committed (see CONTRIBUTING.md):
#   bash scripts/execute-notebooks.sh notebooks/04_multidistral_v1.ipynb [more ...]
#   bash scripts/execute-notebooks.sh            (every chapter)
# then rewrites the reader copies in reader/ (python -m mdlib reader-notebooks reader).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "$#" -gt 0 ] || set -- notebooks/0*.ipynb
for notebook in "$@"; do
  start=$SECONDS
  .venv/bin/python -c "import sys; from mdlib.book import execute_notebook; execute_notebook(sys.argv[1])" "$notebook"
  echo "executed $notebook in $((SECONDS - start)) s"
done
# The reader copies (reader/: the numbers written in, for JupyterLab, Colab and the download menu)
# follow the chapters they are made from.
.venv/bin/python -m mdlib reader-notebooks reader
