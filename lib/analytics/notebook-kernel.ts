import Module from 'node:module';

/**
 * Package imports inside the zsd kernel (tslab 1.0.22). Import this module first in a notebook's first code cell:
 * `import './lib/analytics/notebook-kernel';`
 *
 * Why: tslab runs the files a notebook imports from its own compiled copies ("side outputs"), and its `require`
 * looks every id up among those copies relative to the importing file before asking Node, bare package names
 * included. So `import ... from 'yaml'` in lib/core/yaml.ts resolves to lib/core/yaml.ts itself and recurses until
 * "Maximum call stack size exceeded". A package name never names a file of the project, so this sends bare ids
 * (no leading "." or "/", and not "tslab", which tslab maps to itself) straight to Node's resolution. Relative
 * imports still go through tslab. Outside a kernel nothing changes: plain Node already resolves bare ids this way.
 * Idempotent; the marker lives on globalThis so that a module reloaded by tslab does not wrap twice.
 */

const INSTALLED = Symbol.for('zsd.analytics.notebookKernel.packageImports');

type Compile = (this: Module & { require: NodeJS.Require }, content: string, filename: string) => unknown;

/** A bare module id (a package or a Node built-in): not relative, not absolute. */
export function isBareModuleId(id: string): boolean {
  return !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(id);
}

/** Wraps `Module.prototype._compile` so that a module's `require` resolves bare ids with Node; returns whether it installed now. */
export function installPackageImports(): boolean {
  const registry = globalThis as Record<symbol, unknown>;
  if (registry[INSTALLED] === true) return false;
  const prototype = Module.prototype as unknown as { _compile: Compile };
  const original = prototype._compile;
  prototype._compile = function compileWithPackageImports(content, filename) {
    const own = this.require;
    // Only a module whose require tslab replaced (a Proxy, not the prototype's) needs the detour.
    if (typeof own === 'function' && own !== (Module.prototype as unknown as { require: unknown }).require) {
      const nodeRequire = (Module.prototype as unknown as { require: (this: Module, id: string) => unknown }).require;
      const patched = function require(this: unknown, id: string): unknown {
        if (typeof id === 'string' && id !== 'tslab' && isBareModuleId(id)) return nodeRequire.call(this as Module, id);
        return (own as (...args: unknown[]) => unknown).apply(this, [id]);
      };
      this.require = patched as unknown as NodeJS.Require;
    }
    return original.call(this, content, filename);
  };
  registry[INSTALLED] = true;
  return true;
}

installPackageImports();
