#!/bin/sh
# npm run jupyter [-- args]: JupyterLab if installed, else the classic notebook, in notebooks/, with the repo's zsd
# kernel on JUPYTER_PATH (no global install needed). Extra arguments go to Jupyter (e.g. -- --port 8899).
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
export JUPYTER_PATH="$root/notebooks/.jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
cd "$root/notebooks"
# Jupyter refuses to run as root without --allow-root (containers, CI machines).
allow_root=""
[ "$(id -u)" = 0 ] && allow_root="--allow-root"
if jupyter lab --version >/dev/null 2>&1; then exec jupyter lab $allow_root "$@"; fi
if [ -x /usr/bin/jupyter ]; then exec /usr/bin/jupyter notebook $allow_root "$@"; fi
command -v jupyter >/dev/null 2>&1 && exec jupyter notebook $allow_root "$@"
echo "npm run jupyter: jupyter not found; install it with apt-get install -y --no-install-recommends jupyter-notebook python3-ipykernel" >&2
exit 1
