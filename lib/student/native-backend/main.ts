/**
 * Entry point of `npm run native-backend [-- --gpu] [--offline]`; see install-native-backend.ts. Exit 0 when the
 * native backend is usable afterwards, 1 with the reason otherwise.
 */
import * as path from 'node:path';
import { isZsdError } from '../../core/errors';
import { installNativeBackend } from './install-native-backend';

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--gpu' && arg !== '--offline');
if (unknown.length > 0) {
  process.stderr.write(`native-backend: unknown argument ${unknown.join(' ')}; expected --gpu and/or --offline\n`);
  process.exit(2);
}
const libtensorflowDir = process.env.LIBTENSORFLOW_DIR;
installNativeBackend({
  root: path.resolve(__dirname, '../../../..'),
  flavour: args.includes('--gpu') ? 'gpu' : 'cpu',
  offline: args.includes('--offline'),
  libtensorflowDir: libtensorflowDir === undefined || libtensorflowDir === '' ? undefined : path.resolve(libtensorflowDir),
  log: (line) => process.stderr.write(`native-backend: ${line}\n`),
}).catch((error: unknown) => {
  process.stderr.write(`native-backend: ${isZsdError(error) ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
