#!/usr/bin/env node
'use strict';
// The compiled CLI (npm install / npm ci build it through the "prepare" script).
let cli;
try {
  cli = require('../../dist/lib/cli/index.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && /dist[\\/]lib[\\/]cli/.test(String(error.message))) {
    process.stderr.write('zsd: the TypeScript sources are not built yet; run `npm run build` (npm ci does it too)\n');
    process.exit(1);
  }
  throw error;
}
cli.main();
