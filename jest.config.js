// Tests live beside the code (lib/<stage>/x.test.ts) and read real data from the data root (ZSD_DATA, default ../shared/data).
const fs = require('node:fs');
const path = require('node:path');

const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  transformIgnorePatterns: ['/node_modules/(?!(p-limit|yocto-queue|arquero|@uwdata)/)'],
  testTimeout: 60000,
};

// With the native backend installed (`npm run native-backend`), every test runs on it, as users get it by default,
// and the student tests run a second time pinned to wasm: both backends are tested in every run.
const nativeLib = path.join(__dirname, 'node_modules', '@tensorflow', 'tfjs-node', 'lib');
const nativeInstalled = fs.existsSync(nativeLib) && fs.readdirSync(nativeLib).some((napi) => fs.existsSync(path.join(nativeLib, napi, 'tfjs_binding.node')));

module.exports = nativeInstalled
  ? {
      testTimeout: base.testTimeout, // a global option: per project it is ignored
      projects: [
        { ...base, displayName: 'default backend' },
        {
          ...base,
          displayName: 'student on wasm',
          roots: ['<rootDir>/lib/student', '<rootDir>/lib/cli'],
          testMatch: ['<rootDir>/lib/student/**/*.test.ts', '<rootDir>/lib/cli/student-commands.test.ts'],
          setupFiles: ['<rootDir>/lib/test-support/pin-wasm-backend.js'],
        },
      ],
    }
  : base;
