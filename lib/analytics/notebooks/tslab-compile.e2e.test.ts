import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../../test-support/fixtures';

// Notebooks import lib/ through tslab, which compiles with its own TypeScript 5.0.4 and without strict null
// checks. Everything reachable from the CLI and the analytics stage must compile that way too, or a notebook that
// imports it fails at its first cell.
test("lib/ compiles with tslab's TypeScript 5.0 in its non-strict mode", () => {
  const tsc = path.join(REPO_ROOT, 'node_modules', '@tslab', 'typescript-for-tslab', 'bin', 'tsc');
  const entries = ['lib/cli/index.ts', 'lib/analytics/figures.ts', 'lib/analytics/display.ts', 'lib/analytics/notebook-kernel.ts'];
  const options = [
    '--noEmit',
    '--module',
    'commonjs',
    '--moduleResolution',
    'node',
    '--target',
    'es2022',
    '--lib',
    'es2023',
    '--esModuleInterop',
    '--skipLibCheck',
    '--resolveJsonModule',
    '--types',
    'node',
  ];
  const result = spawnSync(process.execPath, [tsc, ...options, ...entries], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});
