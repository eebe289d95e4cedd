// `node --require ./lib/test-support/register-typescript.js file.ts`: runs TypeScript sources without a build, through
// @swc/core (a dev dependency; the transform jest uses). For what the shipped build leaves out, e.g. lib/bench.
const fs = require('node:fs');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

Module._extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
