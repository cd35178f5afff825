#!/usr/bin/env bash
# Install the book's front-end files from the npm registry and copy what the pages load into
# book/vendor/, so that the built site serves MathJax 3, require.js and the ipywidgets embed
# manager itself and no page loads anything from another host.
#
#   book/vendor/mathjax/       MathJax 3 (tex-mml-chtml.js, its fonts, lazily loaded extensions)
#   book/vendor/requirejs/     require.js (AMD loader the widget manager needs)
#   book/vendor/html-manager/  @jupyter-widgets/html-manager: embed-amd.js and its fonts
#
# _config.yml lists book/vendor in html_static_path, so these land in _build/html/_static/.
# Idempotent: `npm ci` only runs when node_modules does not match package-lock.json, and the
# copy only runs when book/vendor does not match the installed packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v npm >/dev/null || { echo "vendor-assets: npm is required (apt-get install nodejs npm)" >&2; exit 1; }

lock_hash=$( (cat package.json package-lock.json; node --version) | sha256sum | cut -d' ' -f1)
stamp=node_modules/.multidistral-lock-hash
if [[ -f $stamp && "$(cat "$stamp")" == "$lock_hash" ]]; then
    echo "vendor-assets: node_modules matches package-lock.json"
else
    echo "vendor-assets: npm ci"
    # --ignore-scripts: nothing here needs an install script (font-awesome only prints a banner).
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$lock_hash" > "$stamp"
fi

vendor=book/vendor
vendor_stamp=$vendor/.lock-hash
if [[ -f $vendor_stamp && "$(cat "$vendor_stamp")" == "$lock_hash" ]]; then
    echo "vendor-assets: $vendor is up to date"
    exit 0
fi

rm -rf "$vendor"
mkdir -p "$vendor/mathjax/output" "$vendor/requirejs" "$vendor/html-manager"

# MathJax 3: the combined component Sphinx loads, plus everything it may fetch later (TeX
# extensions on first use, CHTML fonts, the SVG output and accessibility code the right-click
# menu can switch on, the speech-rule engine those use). Not copied: the other combined builds.
mj=node_modules/mathjax/es5
cp "$mj/tex-mml-chtml.js" "$vendor/mathjax/"
cp -r "$mj/input" "$mj/a11y" "$mj/ui" "$mj/sre" "$mj/adaptors" "$vendor/mathjax/"
cp -r "$mj/output/chtml" "$mj/output/chtml.js" "$mj/output/svg" "$mj/output/svg.js" "$vendor/mathjax/output/"
cp node_modules/mathjax/LICENSE "$vendor/mathjax/"

cp node_modules/requirejs/require.js "$vendor/requirejs/"

# The widget manager: the AMD bundle and the Font Awesome fonts its CSS points at (webpack
# resolves them next to the bundle, see book/static/widget-shim.js).
hm=node_modules/@jupyter-widgets/html-manager/dist
cp "$hm/embed-amd.js" "$vendor/html-manager/"
cp "$hm"/*.woff2 "$hm"/*.woff "$hm"/*.ttf "$hm"/*.eot "$hm"/*.svg "$vendor/html-manager/"
cp "$hm/embed.js.LICENSE.txt" "$vendor/html-manager/LICENSE.txt"

echo "$lock_hash" > "$vendor_stamp"
echo "vendor-assets: copied $(du -sh "$vendor" | cut -f1) into $vendor"
