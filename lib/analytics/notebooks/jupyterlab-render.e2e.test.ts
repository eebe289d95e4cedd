import * as fs from 'node:fs';
import { checkJupyterLabRender, defaultArtifactsDirectory } from './check-jupyterlab-render';

// JupyterLab 4 (installed into .venv-jupyter/ from pip's configured index when missing), in headless Chromium: runs all
// of notebooks/05-students and requires every plotly figure the kernel sent to be drawn as SVG by the jupyterlab-plotly
// renderer. Screenshots stay in $ZSD_ARTIFACTS/jupyterlab-render (else .artifacts/jupyterlab-render) for CI to keep.
describe('notebooks in JupyterLab', () => {
  it('05-students runs in the browser and its plotly figures are drawn natively', async () => {
    const lines: string[] = [];
    const result = await checkJupyterLabRender({ log: (line) => lines.push(line), timeoutSeconds: 600 });
    expect(result.cells).toBe(8);
    // The study's eight figures (tracking file in the shared data), the committed from-scratch experiment's two and the
    // committed parity experiment's one.
    expect(result.figures).toBeGreaterThanOrEqual(11);
    expect(result.drawn).toBe(result.figures);
    expect(result.screenshots).toHaveLength(result.figures + 1);
    for (const screenshot of result.screenshots) {
      expect(screenshot.startsWith(defaultArtifactsDirectory())).toBe(true);
      expect(fs.readFileSync(screenshot).subarray(1, 4).toString('latin1')).toBe('PNG');
    }
    process.stderr.write(`${lines.join('\n')}\n`);
  }, 900_000);
});
