import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporaryDirectory } from '../../test-support/fixtures';
import { assertJupyterInstalled, runNotebooksProcess } from './jupyter';

// `npm run notebooks` on the project's own notebooks, as a user runs them: every notebook executes headless with the
// zsd kernel, cell by cell, without an error (06-distill runs the whole loop in the kernel). Executed copies go to a
// temporary folder; the committed notebooks stay as they are.
assertJupyterInstalled();

const NOTEBOOKS = path.join(__dirname, '..', '..', '..', 'notebooks');

test('every notebook in notebooks/ runs to its end with the zsd kernel', async () => {
  const names = fs
    .readdirSync(NOTEBOOKS)
    .filter((name) => name.endsWith('.ipynb'))
    .sort();
  expect(names.length).toBeGreaterThanOrEqual(6);
  const out = temporaryDirectory('zsd-notebooks-');
  const env = { JUPYTER_DATA_DIR: path.join(temporaryDirectory(), 'jupyter-data') };

  const result = await runNotebooksProcess(['--out', out], { env });

  expect(result.stderr).not.toMatch(/failed at cell/);
  expect(result.status).toBe(0);
  for (const [index, name] of names.entries()) {
    expect(result.stdout).toMatch(new RegExp(`^\\[${index + 1}/${names.length}\\] ${name.replace('.', '\\.')} ok in \\d+\\.\\d s`, 'm'));
  }
  expect(fs.readdirSync(out).sort()).toEqual(names);
}, 1_200_000);
