#!/bin/sh
# sh lib/analytics/notebooks/install-jupyterlab.sh (npm run jupyter runs it): JupyterLab 4 and plotly (whose wheel
# carries the prebuilt jupyterlab-plotly labextension, the renderer that draws application/vnd.plotly.v1+json natively)
# in the project-local venv .venv-jupyter/ (gitignored), from pip's configured index. Idempotent: a finished
# environment is left as it is. Prints the environment's jupyter.
#
# When pip's configuration names local file:// indexes (a machine that reaches no Python registry), only those are
# used: with pypi.org still the default index, pip waits on it for every package (12 minutes instead of 46 s here).
# ZSD_JUPYTER_VENV overrides the folder; ZSD_PYTHON the interpreter that creates it.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
venv=${ZSD_JUPYTER_VENV:-$root/.venv-jupyter}
# What the environment holds; changing this line makes the next run rebuild it.
requirements='jupyterlab>=4,<5 plotly>=5.12'
stamp="$venv/zsd-requirements"

fail() { echo "jupyter:install: $*" >&2; exit 1; }

ready() {
  [ -x "$venv/bin/jupyter" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$requirements" ] &&
    [ -f "$venv/share/jupyter/labextensions/jupyterlab-plotly/package.json" ] &&
    "$venv/bin/python" -c 'from importlib.metadata import version; version("jupyterlab"); version("plotly")' >/dev/null 2>&1
}

if ready; then echo "$venv/bin/jupyter"; exit 0; fi

# One installer at a time (npm run jupyter beside a test run): the second waits, then finds the environment ready.
lock="$venv.lock"
waited=0
until mkdir "$lock" 2>/dev/null; do
  [ "$waited" -ge 600 ] && fail "another install has held $lock for 10 minutes; remove it if no install is running"
  sleep 2
  waited=$((waited + 2))
done
trap 'rmdir "$lock" 2>/dev/null || true' EXIT INT TERM
if ready; then echo "$venv/bin/jupyter"; exit 0; fi

python=""
for candidate in ${ZSD_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || fail "no Python 3.9+ with the venv and ensurepip modules (tried ${ZSD_PYTHON:+$ZSD_PYTHON, }python3, /usr/bin/python3); install one with: apt-get install -y --no-install-recommends python3 python3-venv"

started=$(date +%s)
echo "jupyter:install: creating $venv with $($python --version 2>&1) and installing $requirements" >&2
rm -rf "$venv"
"$python" -m venv "$venv" || fail "$python -m venv $venv failed"
pip="$venv/bin/python -m pip"

# Local indexes from pip's configuration (index-url and extra-index-url, any scope), in order.
local_indexes=$($pip config list 2>/dev/null | sed -n "s/^[^=]*index-url='\(.*\)'$/\1/p" | tr ' ' '\n' | grep '^file://' || true)
index_options=""
if [ -n "$local_indexes" ]; then
  first=true
  for index in $local_indexes; do
    if $first; then index_options="--index-url $index"; first=false; else index_options="$index_options --extra-index-url $index"; fi
  done
  echo "jupyter:install: from pip's configured local indexes: $(echo $local_indexes)" >&2
fi

log="$venv/install.log"
# shellcheck disable=SC2086 # the options and requirements are lists of words
if ! $pip install --disable-pip-version-check $index_options $requirements >"$log" 2>&1; then
  grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 15 >&2
  fail "pip could not install $requirements into $venv (full log: $log); pip's configuration: $($pip config list 2>/dev/null | tr '\n' ' ')"
fi
[ -f "$venv/share/jupyter/labextensions/jupyterlab-plotly/package.json" ] ||
  fail "the installed plotly has no jupyterlab-plotly labextension (plotly 5.12 or later ships it prebuilt): see $log"
echo "$requirements" > "$stamp"
versions=$("$venv/bin/python" -c 'import jupyterlab, plotly; print("jupyterlab", jupyterlab.__version__, "plotly", plotly.__version__)')
echo "jupyter:install: $versions in $(($(date +%s) - started)) s" >&2
echo "$venv/bin/jupyter"
