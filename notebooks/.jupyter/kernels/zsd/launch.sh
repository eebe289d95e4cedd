#!/bin/sh
# Starts tslab in the repository root, so notebook cells import `./lib/...` (tslab's rootDir is the kernel's cwd).
# This file's directory is notebooks/.jupyter/kernels/zsd; `npm run kernel` installs a copy with an absolute path.
cd "$(dirname "$0")/../../../.." || exit 1
exec node_modules/.bin/tslab kernel --config-path "$1"
