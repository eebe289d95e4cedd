#!/bin/sh
# npm run kernel: installs the zsd kernel into your Jupyter data directory (jupyter kernelspec install --user), so
# any Jupyter (JupyterLab, the classic notebook, VS Code) offers "zsd (TypeScript)". The installed copy lives outside
# the repo, so its launch.sh names this checkout by its absolute path: run this again if the checkout moves.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
node=$(command -v node) || { echo "npm run kernel: node is not on PATH" >&2; exit 1; }
if [ -x /usr/bin/jupyter ]; then jupyter=/usr/bin/jupyter; else jupyter=$(command -v jupyter) || {
  echo "npm run kernel: jupyter not found; install it with apt-get install -y --no-install-recommends jupyter-client jupyter-notebook python3-ipykernel" >&2
  exit 1
}; fi
[ -x "$root/node_modules/.bin/tslab" ] || { echo "npm run kernel: $root/node_modules/.bin/tslab is missing; run npm ci first" >&2; exit 1; }

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir "$staging/zsd"
cp "$root/notebooks/.jupyter/kernels/zsd/kernel.json" "$staging/zsd/kernel.json"
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
cat > "$staging/zsd/launch.sh" <<LAUNCH
#!/bin/sh
# Installed by npm run kernel from $root. Starts tslab in that checkout so notebooks import ./lib/...
cd $(quote "$root") || exit 1
exec $(quote "$node") node_modules/tslab/bin/tslab kernel --config-path "\$1"
LAUNCH
chmod +x "$staging/zsd/launch.sh"
"$jupyter" kernelspec install --user --name zsd "$staging/zsd"
echo "installed the zsd kernel for $root"
