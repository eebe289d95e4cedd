// Tests live beside the code (lib/<stage>/x.test.ts) and read real data from the data root (ZSD_DATA, default ../shared/data).
//
// Two tiers (`npm test` runs both, as CI does):
// - fast: in-process tests that take seconds (`npm run test:fast`);
// - slow (`npm run test:slow`): end-to-end tests, named *.e2e.test.ts, that start the built CLI, Jupyter or a browser
//   or run the demo; in-process tests that compute for long (training, every figure from the study's data, the ONNX
//   export), named *.slow.test.ts; and the student tests again on wasm. The slow tier's globalSetup builds dist/ first
//   (incrementally), since the CLI its tests start runs dist/: no test runs a stale build.
const fs = require('node:fs');
const path = require('node:path');

const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  transformIgnorePatterns: ['/node_modules/(?!(p-limit|yocto-queue|arquero|@uwdata)/)'],
};
const buildFirst = '<rootDir>/lib/test-support/build-before-tests.js';

const slow = ['**/*.e2e.test.ts', '**/*.slow.test.ts'];

// With the native backend installed (`npm run native-backend`; `npm test` sets it up), every test runs on it, as users
// get it by default, and the student tests run a second time pinned to wasm: both backends are tested in every run.
const nativeLib = path.join(__dirname, 'node_modules', '@tensorflow', 'tfjs-node', 'lib');
const nativeInstalled = fs.existsSync(nativeLib) && fs.readdirSync(nativeLib).some((napi) => fs.existsSync(path.join(nativeLib, napi, 'tfjs_binding.node')));

module.exports = {
  testTimeout: 60000, // a global option: per project it is ignored
  projects: [
    { ...base, displayName: 'fast', testMatch: ['**/*.test.ts', ...slow.map((glob) => `!${glob}`)] },
    { ...base, displayName: 'slow', testMatch: slow, globalSetup: buildFirst },
    ...(nativeInstalled
      ? [
          {
            ...base,
            displayName: 'student on wasm',
            testMatch: ['**/lib/student/**/*.test.ts', '**/lib/cli/student-commands.e2e.test.ts'],
            setupFiles: ['<rootDir>/lib/test-support/pin-wasm-backend.js'],
            globalSetup: buildFirst,
          },
        ]
      : []),
  ],
};
