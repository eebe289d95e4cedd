// jest globalSetup of the end-to-end tier (jest.config.js): its tests start the built CLI (lib/cli/zsd.js runs dist/),
// so dist/ is built from the sources first and no test runs a stale build. Incremental: with nothing changed it
// only checks (a few seconds). Runs once per jest run, however many projects name it.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = function buildBeforeTests() {
  if (process.env.ZSD_TEST_BUILD_DONE === '1') return;
  const root = path.resolve(__dirname, '..', '..');
  const started = Date.now();
  try {
    execFileSync(
      process.execPath,
      [
        path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--incremental',
        '--tsBuildInfoFile',
        path.join('dist', 'tsconfig.build.tsbuildinfo'),
      ],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
    );
  } catch (error) {
    throw new Error(
      `building dist/ (\`tsc -p tsconfig.build.json\`, for the end-to-end tests and the native-backend installer) failed with exit ${error.status}: see the errors above`,
    );
  }
  process.env.ZSD_TEST_BUILD_DONE = '1';
  process.stderr.write(`\ndist/ built from the sources (incremental) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
};
