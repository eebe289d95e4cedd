/**
 * Which TensorFlow.js backend the student tests run on. `npm test` runs them twice when the native backend is
 * installed (`npm run native-backend`): once as a user gets them by default (native), once pinned to wasm with
 * ZSD_BACKEND=wasm (jest.config.js). Tests that name a backend read it from here instead of assuming one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './fixtures';

/** The native package is usable here: installed, with its built binding in place. */
export function nativeBackendInstalled(): boolean {
  const packageDir = path.join(REPO_ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
  const lib = path.join(packageDir, 'lib');
  return (
    fs.existsSync(path.join(packageDir, 'package.json')) &&
    fs.existsSync(lib) &&
    fs.readdirSync(lib).some((napi) => fs.existsSync(path.join(lib, napi, 'tfjs_binding.node')))
  );
}

/** The tfjs backend name initBackend() gives in this test run: 'tensorflow' or 'wasm'. */
export function expectedBackendName(): 'tensorflow' | 'wasm' {
  const pinned = process.env.ZSD_BACKEND;
  if (pinned === 'wasm') return 'wasm';
  if (pinned === 'node' || pinned === 'node-gpu') return 'tensorflow';
  return nativeBackendInstalled() ? 'tensorflow' : 'wasm';
}

/** The `--backend` values that work here, for tests that run a command on each. */
export function availableBackendFlags(): ('wasm' | 'node')[] {
  return nativeBackendInstalled() ? ['wasm', 'node'] : ['wasm'];
}
