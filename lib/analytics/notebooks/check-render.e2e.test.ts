import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporaryDirectory } from '../../test-support/fixtures';
import { checkNotebookRender } from './check-render';

// A real browser on a real classic notebook server: the executed notebook's display() outputs must draw plotly plots.
describe('notebook figures in the classic notebook', () => {
  it('render as plotly plots in headless Chromium', async () => {
    const screenshot = path.join(temporaryDirectory(), 'notebook-render.png');
    const result = await checkNotebookRender({ screenshot, log: () => undefined });
    expect(result.plots).toBe(2);
    expect(fs.readFileSync(screenshot).subarray(1, 4).toString('latin1')).toBe('PNG');
  }, 120_000);
});
