import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporaryDirectory } from '../test-support/fixtures';
import { assertWritable, isInside } from './paths';

describe('the read-only data root', () => {
  test('a path that does not exist yet, reached through a symlink to the data root, is inside it', () => {
    const root = temporaryDirectory('zsd-paths-');
    const data = path.join(root, 'real', 'data');
    fs.mkdirSync(data, { recursive: true });
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'linked'));
    const throughLink = path.join(root, 'linked', 'data', 'analytics', 'figure.png');
    expect(isInside(throughLink, data)).toBe(true);
    expect(isInside(path.join(root, 'linked', 'data'), path.join(root, 'real', 'data'))).toBe(true);
    expect(() => assertWritable(throughLink, data)).toThrow(/inside the read-only data root/);
    expect(isInside(path.join(root, 'elsewhere', 'x'), data)).toBe(false);
    expect(isInside(path.join(root, 'real', 'data-other'), data)).toBe(false);
  });
});
