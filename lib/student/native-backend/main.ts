/**
 * Entry point of `npm run native-backend [-- --gpu] [--offline] [--best-effort]`; see install-native-backend.ts. Exit 0
 * when the native backend is usable afterwards, 1 with the reason otherwise (0 with --best-effort, which the demo uses).
 */
import * as path from 'node:path';
import { isZsdError } from '../../core/errors';
import { installNativeBackend } from './install-native-backend';

const args = process.argv.slice(2);
const FLAGS = ['--gpu', '--offline', '--best-effort'];
const unknown = args.filter((arg) => !FLAGS.includes(arg));
if (unknown.length > 0) {
  process.stderr.write(`native-backend: unknown argument ${unknown.join(' ')}; expected ${FLAGS.join(', ')}\n`);
  process.exit(2);
}
// --best-effort (the demo): a machine that cannot build the native backend trains on wasm instead; say so, exit 0
const bestEffort = args.includes('--best-effort');
const libtensorflowDir = process.env.LIBTENSORFLOW_DIR;
installNativeBackend({
  root: path.resolve(__dirname, '../../../..'),
  flavour: args.includes('--gpu') ? 'gpu' : 'cpu',
  offline: args.includes('--offline'),
  libtensorflowDir: libtensorflowDir === undefined || libtensorflowDir === '' ? undefined : path.resolve(libtensorflowDir),
  log: (line) => process.stderr.write(`native-backend: ${line}\n`),
}).catch((error: unknown) => {
  process.stderr.write(`native-backend: ${isZsdError(error) ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (bestEffort) process.stderr.write('native-backend: not available here; zsd uses the WebAssembly backend (slower, same results)\n');
  else process.exitCode = 1;
});
