/**
 * `npm run native-backend [-- --gpu]`: makes TensorFlow's native kernels (@tensorflow/tfjs-node, or -gpu) usable by
 * zsd on this machine, online or offline, without touching a tracked file.
 *
 * 1. Nothing to do when the package already loads and registers the 'tensorflow' backend on zsd's tfjs-core.
 * 2. The package (same version as zsd's @tensorflow/tfjs-core, so npm dedupes the two) is installed with
 *    `npm install --no-save --ignore-scripts`: package.json and package-lock.json keep their bytes (checked).
 * 3. The official route: the package's own install script, which downloads libtensorflow and a prebuilt binding.
 * 4. Where that download cannot be reached, the binding is built with node-gyp (against Node's own headers) from a
 *    local TensorFlow C library: `LIBTENSORFLOW_DIR` (an unpacked libtensorflow: include/ and lib/), else the
 *    TensorFlow wheel that pip's configured index serves (`tensorflow-cpu`; its libtensorflow_cc.so.2 exports the C
 *    and eager C APIs the binding calls, and it carries the headers).
 * 5. The result is checked in a fresh process (a product on the native backend) before success is reported.
 *
 * A second run finds step 1 true and returns at once. Everything lands in node_modules, so `npm ci` undoes it.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ZsdError } from '../../core/errors';

export type NativeFlavour = 'cpu' | 'gpu';

export interface NativeBackendOptions {
  /** the repository root: where package.json and node_modules are */
  root: string;
  flavour: NativeFlavour;
  /** an unpacked libtensorflow (include/, lib/); else the official download, then pip's tensorflow wheel */
  libtensorflowDir?: string;
  /** skip the official download (for tests and for machines known to be offline) */
  offline?: boolean;
  log: (line: string) => void;
}

export interface NativeBackendResult {
  packageName: string;
  /** how the TensorFlow library got there */
  source: 'already-installed' | 'official-download' | 'libtensorflow-dir' | 'pip-wheel';
  /** the TensorFlow version the binding reports */
  tensorflowVersion: string;
  seconds: number;
}

export function nativePackageName(flavour: NativeFlavour): string {
  return flavour === 'gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
}

export async function installNativeBackend(options: NativeBackendOptions): Promise<NativeBackendResult> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const packageName = nativePackageName(options.flavour);
  const packageDir = path.join(options.root, 'node_modules', ...packageName.split('/'));
  const coreVersion = readPackageVersion(path.join(options.root, 'node_modules', '@tensorflow', 'tfjs-core'));
  if (coreVersion === undefined) {
    throw new ZsdError('not-found', `${path.join(options.root, 'node_modules/@tensorflow/tfjs-core')}: not installed; run npm ci first`);
  }

  const before = probeNativeBackend(options.root, packageName);
  if (before.kind === 'ready') {
    options.log(`${packageName} is already usable (TensorFlow ${before.tensorflowVersion}); nothing to do`);
    return { packageName, source: 'already-installed', tensorflowVersion: before.tensorflowVersion, seconds: seconds() };
  }

  if (readPackageVersion(packageDir) !== coreVersion) {
    options.log(`installing ${packageName}@${coreVersion} (no save: package.json and package-lock.json stay as they are)`);
    withTrackedFilesUnchanged(options.root, () =>
      run('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `${packageName}@${coreVersion}`], { cwd: options.root }),
    );
  }

  let source: NativeBackendResult['source'];
  const libtensorflowDir = options.libtensorflowDir;
  if (libtensorflowDir === undefined && !options.offline && officialInstall(packageDir, options)) {
    source = 'official-download';
  } else {
    const depsDir = path.join(packageDir, 'deps');
    fs.rmSync(depsDir, { recursive: true, force: true });
    if (libtensorflowDir !== undefined) {
      layOutLibtensorflowDir(libtensorflowDir, depsDir);
      source = 'libtensorflow-dir';
    } else {
      if (options.flavour === 'gpu') {
        throw new ZsdError(
          'not-found',
          `${packageName}: the official libtensorflow download failed and no GPU TensorFlow library is known here; ` +
            'set LIBTENSORFLOW_DIR to an unpacked GPU libtensorflow (include/, lib/)',
        );
      }
      const wheel = downloadTensorflowWheel(options);
      layOutWheel(wheel, depsDir, options);
      source = 'pip-wheel';
    }
    buildBinding(packageDir, options);
    // The headers (about 290 MB from the wheel) are needed only to compile.
    fs.rmSync(path.join(depsDir, 'include'), { recursive: true, force: true });
    fs.rmSync(path.join(packageDir, 'build', 'Release', 'obj.target'), { recursive: true, force: true });
  }

  const after = probeNativeBackend(options.root, packageName);
  if (after.kind !== 'ready') {
    throw new ZsdError('internal', `${packageName} was installed (${source}) but does not load: ${after.reason}`);
  }
  options.log(`${packageName} ready: TensorFlow ${after.tensorflowVersion} (${source}), ${seconds().toFixed(0)} s`);
  return { packageName, source, tensorflowVersion: after.tensorflowVersion, seconds: seconds() };
}

// ---------------------------------------------------------------------------------------------------------------
// Is it usable? Checked in a fresh process: a native library that fails to load can take its process with it.

type Probe = { kind: 'ready'; tensorflowVersion: string } | { kind: 'unusable'; reason: string };

export function probeNativeBackend(root: string, packageName: string): Probe {
  const script = `
    process.env.TF_ENABLE_ONEDNN_OPTS ??= '0'; process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    const tf = require('@tensorflow/tfjs-core');
    require(${JSON.stringify(packageName)});
    if (tf.findBackendFactory('tensorflow') === null) throw new Error('registered on a different @tensorflow/tfjs-core');
    tf.setBackend('tensorflow').then(() => {
      const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
      if (product[0] !== 17 || product[1] !== 39) throw new Error('wrong product ' + Array.from(product));
      process.stdout.write(JSON.stringify({ tensorflow: tf.backend().binding.TF_Version }));
    });`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (result.status === 0) {
    try {
      return { kind: 'ready', tensorflowVersion: String((JSON.parse(result.stdout) as { tensorflow: string }).tensorflow) };
    } catch {
      return { kind: 'unusable', reason: `unexpected output ${JSON.stringify(result.stdout)}` };
    }
  }
  const lines = `${result.stderr ?? ''}`.split('\n').filter((line) => /Error|error:/.test(line));
  return { kind: 'unusable', reason: lines[0]?.trim() ?? `exit ${result.status}` };
}

// ---------------------------------------------------------------------------------------------------------------
// The official route.

function officialInstall(packageDir: string, options: NativeBackendOptions): boolean {
  options.log(`trying the official libtensorflow download (${path.basename(packageDir)} scripts/install.js)`);
  const args = ['scripts/install.js', ...(options.flavour === 'gpu' ? ['gpu', 'download'] : [])];
  const result = spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', timeout: 900_000 });
  const ok = result.status === 0 && probeNativeBackend(path.resolve(packageDir, '../../..'), nativePackageName(options.flavour)).kind === 'ready';
  if (!ok) {
    const reason = `${result.stderr ?? ''}${result.stdout ?? ''}`.match(/(ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT)[^\n]*/)?.[0];
    options.log(`the official download did not work${reason === undefined ? '' : ` (${reason})`}; building from a local TensorFlow C library`);
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------------------------
// A local TensorFlow C library, laid out where the package's binding.gyp expects it: deps/include, deps/lib with
// libtensorflow.so and libtensorflow_framework.so (link time) and the files their sonames name (run time).

/** The files an unpacked libtensorflow must hold, relative to its root. */
export const LIBTENSORFLOW_REQUIRED = ['include/tensorflow/c/c_api.h', 'include/tensorflow/c/eager/c_api.h'] as const;

export function layOutLibtensorflowDir(source: string, depsDir: string): void {
  const missing: string[] = LIBTENSORFLOW_REQUIRED.filter((file) => !fs.existsSync(path.join(source, file)));
  const libDir = path.join(source, 'lib');
  const libraries = fs.existsSync(libDir) ? fs.readdirSync(libDir) : [];
  const main = libraries.find((name) => /^libtensorflow(_cc)?\.so\.\d/.test(name));
  const framework = libraries.find((name) => /^libtensorflow_framework\.so\.\d/.test(name));
  if (main === undefined) missing.push('lib/libtensorflow.so.2 (or libtensorflow_cc.so.2)');
  if (framework === undefined) missing.push('lib/libtensorflow_framework.so.2');
  if (missing.length > 0) {
    throw new ZsdError('not-found', `LIBTENSORFLOW_DIR=${source}: missing ${missing.join(', ')} (expected an unpacked libtensorflow)`);
  }
  fs.mkdirSync(path.join(depsDir, 'lib'), { recursive: true });
  for (const name of libraries) fs.cpSync(path.join(libDir, name), path.join(depsDir, 'lib', name), { verbatimSymlinks: true });
  fs.cpSync(path.join(source, 'include'), path.join(depsDir, 'include'), { recursive: true });
  linkForTheLinker(path.join(depsDir, 'lib'), main!, framework!);
}

/** libtensorflow.so and libtensorflow_framework.so for `-ltensorflow -ltensorflow_framework`, as symlinks. */
function linkForTheLinker(libDir: string, main: string, framework: string): void {
  for (const [link, target] of [
    ['libtensorflow.so', main],
    ['libtensorflow_framework.so', framework],
  ]) {
    if (link === target) continue;
    fs.rmSync(path.join(libDir, link), { force: true });
    fs.symlinkSync(target, path.join(libDir, link));
  }
}

/** The CPU TensorFlow wheel from pip's configured index, kept in node_modules/.cache so a rerun does not fetch it. */
function downloadTensorflowWheel(options: NativeBackendOptions): string {
  const cacheDir = path.join(options.root, 'node_modules', '.cache', 'zsd-native-backend');
  fs.mkdirSync(cacheDir, { recursive: true });
  const cached = () => fs.readdirSync(cacheDir).find((name) => /^tensorflow(_cpu)?-.*\.whl$/.test(name));
  if (cached() === undefined) {
    const python = findPython();
    options.log(`fetching the tensorflow-cpu wheel with ${python} -m pip download (pip's configured index)`);
    const result = spawnSync(
      python,
      ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '1', '--timeout', '30', '-d', cacheDir, 'tensorflow-cpu'],
      { encoding: 'utf8' },
    );
    if (result.status !== 0 || cached() === undefined) {
      throw new ZsdError(
        'not-found',
        'no TensorFlow C library: the official libtensorflow download failed and ' +
          `${python} -m pip download tensorflow-cpu did not give a wheel (${lastLine(result)}); ` +
          'set LIBTENSORFLOW_DIR to an unpacked libtensorflow (include/, lib/)',
      );
    }
  }
  return path.join(cacheDir, cached()!);
}

function findPython(): string {
  for (const candidate of [process.env.PYTHON, 'python3', 'python']) {
    if (candidate !== undefined && candidate !== '' && spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  throw new ZsdError(
    'not-found',
    'no TensorFlow C library: the official download failed, and no python3 with pip is on PATH to fetch the tensorflow-cpu wheel; set LIBTENSORFLOW_DIR to an unpacked libtensorflow (include/, lib/)',
  );
}

/** Unpacks the two shared libraries and the headers of a tensorflow wheel (a zip) into deps/. */
function layOutWheel(wheel: string, depsDir: string, options: NativeBackendOptions): void {
  options.log(`unpacking the TensorFlow C library and headers from ${path.basename(wheel)}`);
  const unpackDir = `${depsDir}.unpack`;
  fs.rmSync(unpackDir, { recursive: true, force: true });
  const script = [
    'import sys, zipfile',
    'wheel, out = sys.argv[1], sys.argv[2]',
    'with zipfile.ZipFile(wheel) as archive:',
    '    names = [n for n in archive.namelist() if n.startswith("tensorflow/include/") or n in ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2")]',
    '    archive.extractall(out, names)',
  ].join('\n');
  run(findPython(), ['-c', script, wheel, unpackDir], {});
  const unpacked = path.join(unpackDir, 'tensorflow');
  for (const library of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) {
    if (!fs.existsSync(path.join(unpacked, library))) {
      throw new ZsdError('invalid-file', `${wheel}: no tensorflow/${library} (expected a TensorFlow 2 wheel for Linux)`);
    }
  }
  fs.mkdirSync(path.join(depsDir, 'lib'), { recursive: true });
  for (const library of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) {
    fs.renameSync(path.join(unpacked, library), path.join(depsDir, 'lib', library));
  }
  fs.renameSync(path.join(unpacked, 'include'), path.join(depsDir, 'include'));
  fs.rmSync(unpackDir, { recursive: true, force: true });
  linkForTheLinker(path.join(depsDir, 'lib'), 'libtensorflow_cc.so.2', 'libtensorflow_framework.so.2');
}

// ---------------------------------------------------------------------------------------------------------------
// node-gyp, against Node's own headers (no header download), into the folder node-pre-gyp's find() looks in.

function buildBinding(packageDir: string, options: NativeBackendOptions): void {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    binary: { module_name: string; module_path: string; napi_versions: number[] };
  };
  const napi = Math.max(...manifest.binary.napi_versions.filter((version) => version <= Number(process.versions.napi)));
  const modulePath = path.resolve(packageDir, manifest.binary.module_path.replace('{napi_build_version}', String(napi)));
  const nodeGyp = findNodeGyp();
  const nodeDir = path.resolve(path.dirname(process.execPath), '..');
  const args = [
    nodeGyp,
    'rebuild',
    `--module_name=${manifest.binary.module_name}`,
    `--module_path=${modulePath}`,
    `--napi_build_version=${napi}`,
    '-j',
    String(os.cpus().length),
  ];
  if (fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
  options.log(`building the binding with node-gyp (N-API ${napi}; needs make, a C++ compiler and python3)`);
  const result = spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8' });
  if (result.status !== 0) {
    const errors = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .filter((line) => /error|ERR!/.test(line))
      .slice(0, 8);
    throw new ZsdError('internal', `node-gyp could not build ${path.basename(packageDir)}'s binding (needs make, g++ and python3):\n${errors.join('\n')}`);
  }
  // node-gyp copies the addon relative to build/; put it where find() looks, whatever node-gyp did.
  const built = path.join(packageDir, 'build', 'Release', `${manifest.binary.module_name}.node`);
  fs.mkdirSync(modulePath, { recursive: true });
  fs.copyFileSync(built, path.join(modulePath, `${manifest.binary.module_name}.node`));
}

function findNodeGyp(): string {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  const found = candidates.find((candidate) => candidate !== undefined && candidate !== '' && fs.existsSync(candidate));
  if (found === undefined) throw new ZsdError('not-found', `node-gyp not found (looked at ${candidates.filter(Boolean).join(', ')}); it ships with npm`);
  return found;
}

// ---------------------------------------------------------------------------------------------------------------

function readPackageVersion(packageDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Runs `body`; if it changed package.json or package-lock.json, puts their bytes back and fails. */
function withTrackedFilesUnchanged(root: string, body: () => void): void {
  const files = ['package.json', 'package-lock.json'].map((name) => path.join(root, name)).filter((file) => fs.existsSync(file));
  const saved = new Map(files.map((file) => [file, fs.readFileSync(file)]));
  const digest = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');
  body();
  const changed = files.filter((file) => !fs.existsSync(file) || digest(fs.readFileSync(file)) !== digest(saved.get(file)!));
  for (const file of changed) fs.writeFileSync(file, saved.get(file)!);
  if (changed.length > 0) throw new ZsdError('internal', `npm changed ${changed.map((file) => path.basename(file)).join(', ')}; restored`);
}

function run(command: string, args: string[], options: { cwd?: string }): void {
  const result = spawnSync(command, args, { cwd: options.cwd, encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    throw new ZsdError('internal', `${command} ${args.join(' ')} failed: ${lastLine(result)}`);
  }
}

function lastLine(result: SpawnSyncReturns<string>): string {
  if (result.error !== undefined) return result.error.message;
  const lines = `${result.stderr ?? ''}`.trim().split('\n');
  return lines[lines.length - 1] || `exit ${result.status}`;
}
