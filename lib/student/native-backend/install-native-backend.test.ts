import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../../core/errors';
import { temporaryDirectory, thrownBy } from '../../test-support/fixtures';
import { layOutLibtensorflowDir, nativePackageName } from './install-native-backend';

describe('LIBTENSORFLOW_DIR (an unpacked libtensorflow) laid out for the binding', () => {
  test('a folder without the headers and libraries is refused, naming every missing file; nothing is written', () => {
    const source = temporaryDirectory();
    fs.mkdirSync(path.join(source, 'lib'));
    const deps = path.join(temporaryDirectory(), 'deps');
    const error = thrownBy(() => layOutLibtensorflowDir(source, deps));
    expect(isZsdError(error) && error.kind).toBe('not-found');
    const message = (error as Error).message;
    expect(message).toContain(`LIBTENSORFLOW_DIR=${source}`);
    for (const missing of [
      'include/tensorflow/c/c_api.h',
      'include/tensorflow/c/eager/c_api.h',
      'lib/libtensorflow.so.2',
      'lib/libtensorflow_framework.so.2',
    ]) {
      expect(message).toContain(missing);
    }
    expect(fs.existsSync(deps)).toBe(false);
  });

  test("the official tarball's layout: libraries and headers copied, linker names made as symlinks to the sonames", () => {
    const source = temporaryDirectory();
    for (const file of [
      'include/tensorflow/c/c_api.h',
      'include/tensorflow/c/eager/c_api.h',
      'lib/libtensorflow.so.2.9.1',
      'lib/libtensorflow_framework.so.2.9.1',
    ]) {
      fs.mkdirSync(path.dirname(path.join(source, file)), { recursive: true });
      fs.writeFileSync(path.join(source, file), file);
    }
    fs.symlinkSync('libtensorflow.so.2.9.1', path.join(source, 'lib', 'libtensorflow.so.2'));
    const deps = path.join(temporaryDirectory(), 'deps');
    layOutLibtensorflowDir(source, deps);
    expect(fs.readFileSync(path.join(deps, 'include/tensorflow/c/eager/c_api.h'), 'utf8')).toBe('include/tensorflow/c/eager/c_api.h');
    expect(fs.readlinkSync(path.join(deps, 'lib', 'libtensorflow.so.2'))).toBe('libtensorflow.so.2.9.1');
    expect(fs.readFileSync(path.join(deps, 'lib', 'libtensorflow.so'), 'utf8')).toBe('lib/libtensorflow.so.2.9.1');
    expect(fs.readFileSync(path.join(deps, 'lib', 'libtensorflow_framework.so'), 'utf8')).toBe('lib/libtensorflow_framework.so.2.9.1');
  });
});

test('the package for each flavour', () => {
  expect(nativePackageName('cpu')).toBe('@tensorflow/tfjs-node');
  expect(nativePackageName('gpu')).toBe('@tensorflow/tfjs-node-gpu');
});
