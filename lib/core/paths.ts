import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from './errors';

/**
 * Where things live. Two roots:
 * - the data root (read-only): datasets, recorded study, tokenizer, reference checkpoints.
 *   `--data DIR`, else env ZSD_DATA, else ../shared/data relative to the current directory.
 * - the workspace (writable): prompt-templates/, prompt-mixes/, query-results/, prompt-metadata/, results/.
 *   `--workspace DIR`, else the current directory.
 * The recorded study (`<data>/zero-shot`) is itself laid out as a workspace; zsd reads it as a read-only
 * layer under the user's workspace, so recorded responses count as cache hits and its templates are found.
 */

export const DEFAULT_DATA_ROOT = '../shared/data';

export function resolveDataRoot(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.ZSD_DATA ?? DEFAULT_DATA_ROOT;
  const root = path.resolve(chosen);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    const source = flag !== undefined ? '--data' : env.ZSD_DATA !== undefined ? 'ZSD_DATA' : 'the default data root';
    throw new ZsdError('not-found', `data root ${root} (from ${source}) is not a directory; pass --data DIR or set ZSD_DATA`);
  }
  return root;
}

export interface Workspace {
  /** Writable directory; everything zsd writes goes below it. */
  readonly root: string;
  /** Read-only layers consulted after `root`, in order (the recorded study). */
  readonly readLayers: readonly string[];
  /** True when `root` lies inside the read-only data root: nothing may be written there. */
  readonly readOnly: boolean;
  /** False: the read-only layers' responses are not read (their templates and mixes still are). Default true. */
  readonly recordedResponses?: boolean;
}

export function resolveWorkspace(dataRoot: string, flag?: string, options: { recordedResponses?: boolean } = {}): Workspace {
  const root = path.resolve(flag ?? '.');
  const study = path.join(dataRoot, 'zero-shot');
  const readLayers = fs.existsSync(study) && path.resolve(study) !== root ? [study] : [];
  return { root, readLayers, readOnly: isInside(root, dataRoot), recordedResponses: options.recordedResponses !== false };
}

/** All directories of a workspace to read templates and mixes from, writable one first. */
export function workspaceLayers(workspace: Workspace): string[] {
  return [workspace.root, ...workspace.readLayers];
}

/** The directories whose query-results/ hold responses: all layers, or only the workspace with `--no-recorded`. */
export function responseLayers(workspace: Workspace): string[] {
  return workspace.recordedResponses === false ? [workspace.root] : workspaceLayers(workspace);
}

export function isInside(candidate: string, parent: string): boolean {
  const relative = path.relative(realOrResolved(parent), realOrResolved(candidate));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** The real path of p, or for a path that does not exist yet, its nearest existing ancestor's real path + the rest. */
function realOrResolved(p: string): string {
  const resolved = path.resolve(p);
  try {
    return fs.realpathSync(resolved);
  } catch {
    const parent = path.dirname(resolved);
    return parent === resolved ? resolved : path.join(realOrResolved(parent), path.basename(resolved));
  }
}

/** Refuses to write below the data root (the shared data is read-only by contract). */
export function assertWritable(target: string, dataRoot: string): void {
  if (isInside(target, dataRoot)) {
    throw new ZsdError('read-only', `refusing to write ${target}: it is inside the read-only data root ${dataRoot}`);
  }
}

/**
 * Writes a file atomically: a temporary sibling, fsync, then rename, so readers never see half a file
 * and a crash leaves either the old or the new content.
 */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = fs.openSync(temporary, 'w');
  try {
    if (typeof content === 'string') fs.writeSync(handle, content);
    else fs.writeSync(handle, content);
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
  fs.renameSync(temporary, file);
}

/** The installed zsd package's root (where its package.json is), from compiled or source files alike. */
export function packageRoot(): string {
  let directory = __dirname;
  for (;;) {
    const candidate = path.join(directory, 'package.json');
    if (fs.existsSync(candidate) && JSON.parse(fs.readFileSync(candidate, 'utf8')).name === 'zsd') return directory;
    const parent = path.dirname(directory);
    if (parent === directory) throw new ZsdError('internal', `cannot find the zsd package.json above ${__dirname}`);
    directory = parent;
  }
}
