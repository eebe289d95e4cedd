/**
 * A browser bundle of the compiled student (dist/lib/student/browser-student.js) and everything it requires, made
 * by zsd itself (no bundler dependency): every CommonJS module reachable through string-literal `require` calls,
 * resolved as Node resolves them, wrapped in a function and registered by id; Node's built-in modules (fs, path,
 * crypto, worker_threads...) are empty objects, which the student's browser path never touches. `process` is a
 * stub without `versions`, so TensorFlow.js and the wasm loader take their browser paths; `Buffer` is the small
 * subset the tokenizer's charsmap needs.
 */
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { packageRoot } from '../core/paths';

/** The compiled browser entry; `npm run build` writes it. */
export function browserStudentEntry(): string {
  return path.join(packageRoot(), 'dist', 'lib', 'student', 'browser-student.js');
}

/** The directory of TensorFlow.js' .wasm binaries, served under /ui/wasm/. */
export function wasmBinariesDirectory(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', { paths: [packageRoot()] }));
}

const REQUIRE_CALL = /\brequire\(\s*(["'])([^"'\n]+)\1\s*\)/g;
const BUILTINS = new Set(builtinModules);

/** One script that defines `globalThis[globalName]` as the entry module's exports. */
export function bundleForBrowser(entry: string, globalName: string): string {
  if (!fs.existsSync(entry)) throw new ZsdError('not-found', `${entry} does not exist: run npm run build (the page's student is the compiled one)`);
  const ids = new Map<string, number>();
  const parts: string[] = [];
  const visit = (file: string): number => {
    const known = ids.get(file);
    if (known !== undefined) return known;
    const id = ids.size;
    ids.set(file, id);
    parts.push(''); // reserve the slot: dependencies come after
    const source = fs.readFileSync(file, 'utf8');
    const dependencies: Record<string, number> = {};
    if (file.endsWith('.json')) {
      parts[id] = `${id}: [function (require, module) { module.exports = ${source}; }, {}]`;
      return id;
    }
    for (const match of source.matchAll(REQUIRE_CALL)) {
      const specifier = match[2];
      if (specifier in dependencies) continue;
      const resolved = resolveModule(specifier, file);
      if (resolved !== null) dependencies[specifier] = visit(resolved);
    }
    parts[id] =
      `${id}: [function (require, module, exports, process, Buffer, global, __filename, __dirname) {\n${source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')}\n}, ${JSON.stringify(dependencies)}]`;
    return id;
  };
  const entryId = visit(entry);
  return `(function () {
'use strict';
var modules = {
${parts.join(',\n')}
};
var cache = {};
var processStub = { env: { NODE_ENV: 'production' }, argv: [], platform: 'browser', nextTick: function (callback) { Promise.resolve().then(callback); }, cwd: function () { return '/'; } };
${BUFFER_SHIM}
function load(id) {
  if (cache[id]) return cache[id].exports;
  var module = { exports: {} };
  cache[id] = module;
  var definition = modules[id];
  var localRequire = function (specifier) {
    var target = definition[1][specifier];
    return target === undefined ? {} : load(target);
  };
  definition[0].call(module.exports, localRequire, module, module.exports, processStub, BufferShim, globalThis, '', '');
  return module.exports;
}
globalThis[${JSON.stringify(globalName)}] = load(${entryId});
})();
`;
}

/** A file to bundle, or null for a built-in module or one that does not resolve (an optional dependency). */
function resolveModule(specifier: string, from: string): string | null {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (BUILTINS.has(bare) || BUILTINS.has(bare.split('/')[0])) return null;
  try {
    const resolved = require.resolve(specifier, { paths: [path.dirname(from)] });
    return path.isAbsolute(resolved) ? resolved : null;
  } catch {
    return null;
  }
}

const BUFFER_SHIM = `
function BufferShim() { throw new Error('Buffer is not available in the browser bundle'); }
function toBuffer(bytes) {
  bytes.readUInt32LE = function (offset) { return (this[offset] | (this[offset + 1] << 8) | (this[offset + 2] << 16)) + this[offset + 3] * 16777216; };
  var subarray = bytes.subarray;
  bytes.subarray = function (start, end) { return toBuffer(subarray.call(this, start, end)); };
  bytes.toString = function (encoding, start, end) { return new TextDecoder().decode(subarray.call(this, start || 0, end === undefined ? this.length : end)); };
  return bytes;
}
BufferShim.from = function (value, encoding) {
  if (typeof value !== 'string') return toBuffer(new Uint8Array(value));
  if (encoding === 'base64') {
    var binary = atob(value);
    var bytes = new Uint8Array(binary.length);
    for (var index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    return toBuffer(bytes);
  }
  return toBuffer(new TextEncoder().encode(value));
};
BufferShim.alloc = function (size) { return toBuffer(new Uint8Array(size)); };
BufferShim.isBuffer = function () { return false; };
BufferShim.byteLength = function (text) { return new TextEncoder().encode(text).length; };
`;
