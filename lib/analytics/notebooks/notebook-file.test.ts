import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../../core/errors';
import { REPO_ROOT, temporaryDirectory, thrownBy, writeFile } from '../../test-support/fixtures';
import { createNotebook, executionLeftovers, readNotebook, ZSD_KERNELSPEC } from './notebook-file';

const NOTEBOOKS = path.join(REPO_ROOT, 'notebooks');
const committed = fs.existsSync(NOTEBOOKS)
  ? fs
      .readdirSync(NOTEBOOKS)
      .filter((name) => name.endsWith('.ipynb'))
      .sort()
  : [];

describe('committed notebooks', () => {
  // Outputs belong in analytics/notebooks/ (npm run notebooks); `npm run notebooks:clear` strips them.
  it.each(committed.length > 0 ? committed : ['(none yet)'])('%s carries no outputs and names the zsd kernel', (name) => {
    if (name === '(none yet)') return;
    const notebook = readNotebook(path.join(NOTEBOOKS, name));
    expect(executionLeftovers(notebook)).toEqual([]);
    expect((notebook.metadata.kernelspec as { name?: string } | undefined)?.name).toBe(ZSD_KERNELSPEC.name);
  });
});

describe('executionLeftovers', () => {
  it('names each cell with outputs, an execution count or timing metadata', () => {
    const notebook = createNotebook(['1 + 1', { markdown: 'x' }, '2 + 2']);
    expect(executionLeftovers(notebook)).toEqual([]);
    Object.assign(notebook.cells[2], { outputs: [{ output_type: 'stream', name: 'stdout', text: '4\n' }], execution_count: 7, metadata: { execution: {} } });
    expect(executionLeftovers(notebook)).toEqual([
      'cell 3 (index 2) has 1 output(s)',
      'cell 3 (index 2) has execution_count 7',
      'cell 3 (index 2) has execution timing metadata',
    ]);
  });
});

describe('readNotebook', () => {
  it('refuses a file that is not an nbformat-4 notebook, naming it', () => {
    const directory = temporaryDirectory();
    for (const [name, content] of [
      ['broken.ipynb', '{"cells": ['],
      ['old.ipynb', '{"nbformat": 3, "worksheets": []}'],
    ]) {
      const file = writeFile(path.join(directory, name), content);
      const error = thrownBy(() => readNotebook(file));
      expect(isZsdError(error) && error.kind).toBe('invalid-file');
      expect((error as Error).message).toContain(file);
    }
  });
});
