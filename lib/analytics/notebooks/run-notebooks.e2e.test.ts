import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporaryDirectory } from '../../test-support/fixtures';
import { assertJupyterInstalled, runNotebooksProcess, SYSTEM_PYTHON } from './jupyter';
import { createNotebook, executionLeftovers, readNotebook } from './notebook-file';

// The runner with the real zsd kernel (tslab): needs Debian's Jupyter (`npm run test:prepare` installs it).
assertJupyterInstalled();

const sources = temporaryDirectory();
const write = (name: string, cells: Parameters<typeof createNotebook>[0]): void =>
  fs.writeFileSync(path.join(sources, name), `${JSON.stringify(createNotebook(cells), null, 1)}\n`);

write('01-import.ipynb', [
  { markdown: '# Imports from the project root' },
  "import { ZsdError } from './lib/core/errors';",
  "console.log(new ZsdError('usage', 'root-import-ok', { file: 'x.yaml' }).message);",
]);
write('02-display.ipynb', [
  "import { display, displayTable } from './lib/analytics/display';",
  "display({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }], layout: { title: { text: 'first' } } });",
  "display({ name: 'second', title: 'Second', figure: { data: [{ type: 'scatter', y: [3, 1] }] }, data: [3, 1] });",
  "displayTable([{ task: 'cqa', accuracy: 0.71234 }, { task: 'svamp', accuracy: 0.5 }]);",
]);
write('03-boom.ipynb', ["console.log('before the error');", 'const answer: number = 42;\nthrow new Error("boom-123");', "console.log('never printed');"]);

// Signatures go to a Jupyter data directory of the test's own.
const env = { JUPYTER_DATA_DIR: path.join(temporaryDirectory(), 'jupyter-data') };

describe('npm run notebooks (run_notebooks.py)', () => {
  it('stops at a failing cell, naming the notebook, the cell, its source and the error from its stderr', async () => {
    const out = temporaryDirectory();
    const result = await runNotebooksProcess(['--dir', sources, '--out', out, '--timeout', '120', '03'], { env });

    expect(result.status).toBe(1);
    expect(result.stderr).toContain('notebook 03-boom.ipynb failed at cell 2 (index 1)');
    expect(result.stderr).toContain('const answer: number = 42;\nthrow new Error("boom-123");');
    expect(result.stderr).toMatch(/--- cell stderr ---[\s\S]*Error: boom-123/);
    expect(result.stdout).toMatch(/\[1\/1\] 03-boom\.ipynb FAILED after \d+\.\d s/);
    // Only the named notebook ran; its partial copy has the first output and never ran the third cell.
    expect(fs.readdirSync(out)).toEqual(['03-boom.ipynb']);
    expect(JSON.stringify(readNotebook(path.join(out, '03-boom.ipynb')))).toContain('before the error');
    expect(JSON.stringify(readNotebook(path.join(out, '03-boom.ipynb')))).not.toContain('"never printed');
  }, 120_000);

  it('runs notebooks in order in the project root and writes executed, trusted copies with display bundles', async () => {
    const out = temporaryDirectory();
    const result = await runNotebooksProcess(['--dir', sources, '--out', out, '--timeout', '120', '02-display.ipynb', '01'], { env });

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('[1/2] 01-import.ipynb ...');
    expect(lines[1]).toMatch(/^\[1\/2\] 01-import\.ipynb ok in \d+\.\d s -> /);
    expect(lines[3]).toMatch(/^\[2\/2\] 02-display\.ipynb ok in \d+\.\d s -> /);
    expect(lines[4]).toMatch(/^2 notebook\(s\) ok in \d+\.\d s$/);

    const imported = readNotebook(path.join(out, '01-import.ipynb'));
    expect(imported.cells[2].outputs).toEqual([{ name: 'stdout', output_type: 'stream', text: 'x.yaml: root-import-ok\n' }]);
    expect(imported.cells[2].execution_count).toBe(2);

    const displayed = readNotebook(path.join(out, '02-display.ipynb'));
    const bundles = displayed.cells.slice(1).map((cell) => (cell.outputs as { output_type: string; data: Record<string, unknown> }[])[0]);
    expect(bundles.map((bundle) => bundle.output_type)).toEqual(['display_data', 'display_data', 'display_data']);
    expect(Object.keys(bundles[0].data).sort()).toEqual(['application/vnd.plotly.v1+json', 'text/html', 'text/plain']);
    expect(bundles[0].data['application/vnd.plotly.v1+json']).toEqual({
      data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }],
      layout: { title: { text: 'first' } },
    });
    // plotly.js is inlined once per kernel: in the first figure only.
    expect((bundles[0].data['text/html'] as string).length).toBeGreaterThan(1_000_000);
    expect((bundles[1].data['text/html'] as string).length).toBeLessThan(10_000);
    expect(bundles[1].data['text/plain']).toBe('Plotly figure second: Second, 1 trace (scatter)');
    expect(bundles[2].data['text/plain']).toContain('svamp    0.5000');

    // Signed with the notary of the Jupyter data directory in use, so the classic notebook runs its scripts.
    const check = spawnSync(
      SYSTEM_PYTHON,
      [
        '-c',
        'import sys, nbformat; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], 4)))',
        path.join(out, '02-display.ipynb'),
      ],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    expect(check.stdout.trim()).toBe('True');
  }, 120_000);

  it('refuses an unknown notebook name, listing the available ones', async () => {
    const result = await runNotebooksProcess(['--dir', sources, '--out', temporaryDirectory(), 'nope'], { env });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('"nope" matches no notebook');
    expect(result.stderr).toContain('01-import.ipynb, 02-display.ipynb, 03-boom.ipynb');
  });

  it('--clear strips outputs, execution counts and timing in place and keeps the sources', async () => {
    const directory = temporaryDirectory();
    const dirty = createNotebook(["console.log('x')", { markdown: 'text' }]);
    Object.assign(dirty.cells[0], {
      outputs: [{ name: 'stdout', output_type: 'stream', text: 'x\n' }],
      execution_count: 3,
      metadata: { execution: { 'iopub.status.busy': 'now' }, tags: ['keep'] },
    });
    fs.writeFileSync(path.join(directory, 'dirty.ipynb'), JSON.stringify(dirty));
    expect(executionLeftovers(readNotebook(path.join(directory, 'dirty.ipynb')))).toHaveLength(3);

    const result = await runNotebooksProcess(['--dir', directory, '--clear'], { env });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('cleared dirty.ipynb\n');
    const cleared = readNotebook(path.join(directory, 'dirty.ipynb'));
    expect(executionLeftovers(cleared)).toEqual([]);
    expect(cleared.cells.map((cell) => cell.source)).toEqual(["console.log('x')", 'text']);
    expect(cleared.cells[0].metadata).toEqual({ tags: ['keep'] });
    expect((await runNotebooksProcess(['--dir', directory, '--clear'], { env })).stdout).toBe('dirty.ipynb is clean\n');
  });
});
