import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import type { NamedFigure } from '../analytics/figure';
import { runFigures } from './figures';

// The figures themselves are lib/analytics/figures.ts's business (and tests); here two tiny ones stand in for them.
jest.mock('../analytics/figures', () => ({
  buildFigures: jest.fn(async (): Promise<NamedFigure[]> => [
    { name: 'first-bars', title: 'First', figure: { data: [{ type: 'bar', y: [1, 2] }] }, data: { y: [1, 2] } },
    { name: 'second-lines', title: 'Second', figure: { data: [{ type: 'scatter', y: [2, 1] }] }, data: { y: [2, 1] } },
  ]),
}));

describe('zsd figures', () => {
  let stderr: jest.SpyInstance;
  let stdout: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    stderr.mockRestore();
    stdout.mockRestore();
  });

  it('renders only the figures named by --only into <workspace>/analytics', async () => {
    const workspace = temporaryDirectory();
    await runFigures({ data: DATA_ROOT, workspace, only: ['second-lines'], formats: ['svg'] });
    expect(fs.readdirSync(path.join(workspace, 'analytics')).sort()).toEqual(['second-lines.json', 'second-lines.svg']);
    expect(stderr.mock.calls.map(([line]) => String(line)).join('')).toMatch(/\[1\/1\] second-lines \(svg, json\) in \d+ ms/);
  });

  it('refuses an unknown --only name, listing the figures, and writes nothing', async () => {
    const out = path.join(temporaryDirectory(), 'out');
    const error = await runFigures({ data: DATA_ROOT, out, only: ['nope'], formats: ['png'] }).catch((caught: unknown) => caught);
    expect(isZsdError(error) && error.kind).toBe('usage');
    expect((error as Error).message).toBe('--only: no figure named "nope"; the figures are: first-bars, second-lines');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses to write into the read-only data root', async () => {
    const error = await runFigures({ data: DATA_ROOT, out: path.join(DATA_ROOT, 'analytics'), formats: ['png'] }).catch((caught: unknown) => caught);
    expect(isZsdError(error) && error.kind).toBe('read-only');
  });
});
