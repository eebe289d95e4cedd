import Module from 'node:module';
import * as path from 'node:path';
import { REPO_ROOT } from '../test-support/fixtures';

// tslab 1.0.22 (node_modules/tslab/dist/executor.js, wrapRequire) runs the files a notebook imports from compiled
// copies and looks every required id up among them relative to the importing file first, bare package names too.
// This reproduces that lookup, so the test shows the failure (lib/core/yaml.ts importing 'yaml' finds itself) and the fix.
type Compilable = Module & { require: (id: string) => unknown; _compile(content: string, filename: string): unknown };

function tslabLikeRequire(
  base: (id: string) => unknown,
  directory: string,
  sideOutputs: Map<string, string>,
  sideModules: Map<string, Module>,
): (id: string) => unknown {
  const fromSideOutputs = (id: string): unknown => {
    let filename = path.join(directory, id);
    if (path.extname(filename) === '') filename += '.js';
    const cached = sideModules.get(filename);
    if (cached) return cached.exports;
    if (!sideOutputs.has(filename)) return null;
    const module = new Module(filename) as Compilable;
    module.filename = filename;
    module.paths = (Module as unknown as { _nodeModulePaths(directory: string): string[] })._nodeModulePaths(path.dirname(filename));
    module.require = tslabLikeRequire(module.require.bind(module), path.dirname(filename), sideOutputs, sideModules);
    module._compile(sideOutputs.get(filename)!, filename);
    sideModules.set(filename, module);
    return module.exports;
  };
  return new Proxy(base, {
    apply: (_target, thisArg, args: [string]) => fromSideOutputs(args[0]) ?? base.apply(thisArg, args),
  });
}

const CORE = path.join(REPO_ROOT, 'lib', 'core');
const SIDE_OUTPUTS = new Map([
  // what tslab compiles lib/core/yaml.ts to, in short: a package import and a relative one
  [
    path.join(CORE, 'yaml.js'),
    "const yaml = require('yaml'); const errors = require('./errors'); module.exports = { parseDocument: yaml.parseDocument, kind: errors.kind };",
  ],
  [path.join(CORE, 'errors.js'), "module.exports = { kind: 'side output' };"],
]);

function importYamlLikeTslab(): { parseDocument: unknown; kind: string } {
  // a fresh cache each time, as a fresh kernel has
  const entry = tslabLikeRequire(
    () => {
      throw new Error('not reached');
    },
    CORE,
    SIDE_OUTPUTS,
    new Map(),
  );
  return entry('./yaml') as { parseDocument: unknown; kind: string };
}

describe('package imports inside the zsd kernel', () => {
  const prototype = Module.prototype as unknown as { _compile: unknown };
  const original = prototype._compile;
  const marker = Symbol.for('zsd.analytics.notebookKernel.packageImports');
  afterAll(() => {
    prototype._compile = original;
    delete (globalThis as Record<symbol, unknown>)[marker];
  });

  test('without the fix, tslab resolves a package named like the importing file to that file, and recurses', () => {
    expect(importYamlLikeTslab).toThrow(/Maximum call stack size exceeded/);
  });

  test('with it, package ids go to Node (the real yaml package), relative ids still to the compiled copies; installing twice is a no-op', () => {
    const { installPackageImports } = require('./notebook-kernel') as typeof import('./notebook-kernel');
    expect(installPackageImports()).toBe(false); // importing the module installed it already
    const loaded = importYamlLikeTslab();
    expect((loaded.parseDocument as (text: string) => { toJS(): unknown })('a: 1').toJS()).toEqual({ a: 1 });
    expect(loaded.kind).toBe('side output');
  });

  test('bare ids: packages, scoped packages and node: built-ins; not relative or absolute paths', () => {
    const { isBareModuleId } = require('./notebook-kernel') as typeof import('./notebook-kernel');
    expect(['yaml', '@tensorflow/tfjs-core', 'node:fs', 'arquero'].every(isBareModuleId)).toBe(true);
    expect(['./yaml', '../core/yaml', '/abs/file', 'C:\\x'].some(isBareModuleId)).toBe(false);
  });
});
