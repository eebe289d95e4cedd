#!/bin/sh
# npm run jupyter [-- args]: JupyterLab 4 from the project-local .venv-jupyter/ (installed on first use by
# install-jupyterlab.sh, with the plotly renderer that draws zsd's figures natively), in notebooks/, with the repo's
# zsd kernel on JUPYTER_PATH (no global install needed). If that environment cannot be installed, the classic notebook
# (Debian's jupyter-notebook) is the fallback. Extra arguments go to Jupyter (e.g. -- --port 8899).
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
export JUPYTER_PATH="$root/notebooks/.jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
# Jupyter refuses to run as root without --allow-root (containers, CI machines).
allow_root=""
[ "$(id -u)" = 0 ] && allow_root="--allow-root"
if lab=$(sh "$root/lib/analytics/notebooks/install-jupyterlab.sh"); then
  cd "$root/notebooks"
  exec "$lab" lab $allow_root "$@"
fi
echo "npm run jupyter: JupyterLab could not be installed (above); falling back to the classic notebook" >&2
cd "$root/notebooks"
if [ -x /usr/bin/jupyter ]; then exec /usr/bin/jupyter notebook $allow_root "$@"; fi
command -v jupyter >/dev/null 2>&1 && exec jupyter notebook $allow_root "$@"
echo "npm run jupyter: no classic notebook either; install it with apt-get install -y --no-install-recommends jupyter-notebook python3-ipykernel" >&2
exit 1
