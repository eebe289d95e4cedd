#!/usr/bin/env node
// `npm run test:prepare`, the first step of `npm test`: installs or verifies what the tests need beyond `npm ci`, so a
// fresh machine passes the tests with the README's two commands and nothing run by hand first.
// - the shared data the tests read ($ZSD_DATA, default ../shared/data): verified;
// - Debian packages: Jupyter on /usr/bin/python3 (the notebook tests) and Chromium (figures, the browser tests):
//   installed with apt-get when missing and this user is root or has passwordless sudo; otherwise it prints the
//   exact command and exits 1;
// - TensorFlow's native backend (`npm run native-backend`), so the tests run on it and the student tests again on
//   wasm: built when missing. Under CI (CI=true) a machine that cannot build it fails here; elsewhere the tests then
//   run on wasm alone, and this says so.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const buildBeforeTests = require('./build-before-tests');

const ROOT = path.resolve(__dirname, '..', '..');
// The same list as the README's apt-get line: Jupyter's runner and kernel machinery, the classic notebook, Chromium.
const APT_PACKAGES = ['jupyter-nbconvert', 'python3-nbclient', 'python3-ipykernel', 'jupyter-client', 'jupyter-notebook', 'chromium'];
const underCi = Boolean(process.env.CI) && process.env.CI !== 'false';

function say(line) {
  process.stderr.write(`test:prepare: ${line}\n`);
}

function fail(message) {
  say(message);
  process.exit(1);
}

function checkDataRoot() {
  const dataRoot = path.resolve(process.env.ZSD_DATA ?? path.join(ROOT, '..', 'shared', 'data'));
  if (!fs.existsSync(path.join(dataRoot, 'datasets'))) {
    fail(`the tests read the shared data at ${dataRoot} (no datasets/ folder there): put shared/ beside the repository or set ZSD_DATA`);
  }
}

function missingDebianPackages() {
  return APT_PACKAGES.filter((name) => {
    const query = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return !(query.status === 0 && query.stdout.includes('install ok installed'));
  });
}

/** 'root', 'sudo' (passwordless) or undefined: who may run apt-get here. */
function aptRunner() {
  if (process.getuid?.() === 0) return 'root';
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? 'sudo' : undefined;
}

function aptGet(runner, args) {
  const [command, commandArgs] = runner === 'sudo' ? ['sudo', ['-n', 'apt-get', ...args]] : ['apt-get', args];
  return spawnSync(command, commandArgs, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
}

function ensureDebianPackages() {
  if (spawnSync('dpkg-query', ['--version'], { stdio: 'ignore' }).status !== 0) {
    fail(
      `not a Debian system (no dpkg-query): install Jupyter for /usr/bin/python3 (nbclient, ipykernel, jupyter_client, notebook) and Chromium (or set ZSD_CHROMIUM), which Debian calls ${APT_PACKAGES.join(' ')}`,
    );
  }
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  const runner = aptRunner();
  if (runner === undefined) {
    fail(
      `the tests need the Debian packages ${missing.join(', ')}; install them with:\n  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
  }
  say(`installing ${missing.join(' ')} (${runner === 'sudo' ? 'sudo ' : ''}apt-get)`);
  // The package lists are refreshed only when an install from the current ones fails (a fresh machine has none).
  if (!aptGet(runner, install) && !(aptGet(runner, ['update']) && aptGet(runner, install))) {
    fail(`apt-get could not install ${missing.join(' ')}: see its messages above`);
  }
  const stillMissing = missingDebianPackages();
  if (stillMissing.length > 0) fail(`apt-get finished but ${stillMissing.join(', ')} is still not installed`);
}

function ensureNativeBackend() {
  // The installer is TypeScript compiled to dist/; a second run checks and returns in about a second.
  buildBeforeTests();
  const installer = spawnSync(
    process.execPath,
    [path.join(ROOT, 'dist', 'lib', 'student', 'native-backend', 'main.js'), ...(underCi ? [] : ['--best-effort'])],
    {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (installer.status !== 0) fail('CI tests both backends, and the native one could not be set up (its reason is above)');
}

const started = Date.now();
checkDataRoot();
ensureDebianPackages();
ensureNativeBackend();
say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
