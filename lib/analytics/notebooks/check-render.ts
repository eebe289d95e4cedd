import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ZsdError, isZsdError } from '../../core/errors';
import { packageRoot } from '../../core/paths';
import { launchChromium } from '../chromium';
import { assertJupyterInstalled, jupyterEnvironment, runNotebooksProcess, SYSTEM_JUPYTER } from './jupyter';
import { collectOutput, freePort, stopServer, waitForServer } from './jupyter-server';
import { createNotebook } from './notebook-file';

/**
 * The real-browser check of notebook figures (`npm run check:notebook-render`): executes a small notebook that calls
 * display() on two plotly figures, serves the executed, trusted copy with the classic `jupyter notebook` on
 * loopback, opens it in headless Chromium and waits until both plots are drawn. The second figure proves that a
 * figure without the inlined plotly.js draws with the copy the first one loaded. Saves a screenshot either way.
 */

export interface RenderCheckOptions {
  /** Where the screenshot goes (default analytics/notebook-render.png in the repo). */
  screenshot?: string;
  /** Seconds to wait for the plots (default 60). */
  timeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface RenderCheckResult {
  plots: number;
  screenshot: string;
  seconds: number;
}

const NOTEBOOK_NAME = 'render-check.ipynb';
const EXPECTED_PLOTS = 2;

export function renderCheckNotebook() {
  return createNotebook([
    { markdown: '# Render check\nTwo plotly figures shown with `display()` from `lib/analytics/display`.' },
    "import { display } from './lib/analytics/display';",
    "display({ data: [{ type: 'bar', x: ['anli1', 'cqa', 'esnli', 'svamp'], y: [0.43, 0.71, 0.62, 0.55], name: 'accuracy' }], layout: { title: { text: 'render check: bars' }, height: 360 } });",
    "display({ name: 'render-check-lines', title: 'render check: lines', figure: { data: [{ type: 'scatter', mode: 'lines+markers', x: [1, 2, 3, 4], y: [0.2, 0.4, 0.5, 0.55] }], layout: { title: { text: 'render check: lines' }, height: 360 } }, data: {} });",
  ]);
}

export async function checkNotebookRender(options: RenderCheckOptions = {}): Promise<RenderCheckResult> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const screenshot = path.resolve(options.screenshot ?? path.join(packageRoot(), 'analytics', 'notebook-render.png'));
  const timeout = (options.timeoutSeconds ?? 60) * 1000;
  assertJupyterInstalled({ notebookServer: true });

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-render-check-'));
  // Its own Jupyter data, runtime and config directories: the notebook is signed and checked with the same secret,
  // and the user's Jupyter configuration (a password, extensions) does not get in the way.
  const env = jupyterEnvironment({
    JUPYTER_DATA_DIR: path.join(scratch, 'jupyter-data'),
    JUPYTER_RUNTIME_DIR: path.join(scratch, 'jupyter-runtime'),
    JUPYTER_CONFIG_DIR: path.join(scratch, 'jupyter-config'),
  });
  let server: ChildProcess | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    const sources = path.join(scratch, 'notebooks');
    const executed = path.join(scratch, 'executed');
    fs.mkdirSync(sources);
    fs.writeFileSync(path.join(sources, NOTEBOOK_NAME), `${JSON.stringify(renderCheckNotebook(), null, 1)}\n`);
    log('render check: executing the notebook');
    const run = await runNotebooksProcess(['--dir', sources, '--out', executed, '--timeout', '120'], { env });
    if (run.status !== 0) throw new ZsdError('internal', `executing ${NOTEBOOK_NAME} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    log(`render check: starting jupyter notebook on ${base}`);
    server = spawn(
      fs.existsSync(SYSTEM_JUPYTER) ? SYSTEM_JUPYTER : 'jupyter',
      [
        'notebook',
        '--no-browser',
        '--ip=127.0.0.1',
        `--port=${port}`,
        '--port-retries=0',
        `--notebook-dir=${executed}`,
        '--NotebookApp.token=',
        '--NotebookApp.password=',
        ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const serverLog = collectOutput(server);
    await waitForServer(`${base}/api/status`, server, serverLog, 30_000);

    browser = await launchChromium();
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1200, height: 1400 });
    log('render check: opening the executed notebook in headless Chromium');
    await page.goto(`${base}/notebooks/${NOTEBOOK_NAME}`, { waitUntil: 'load', timeout });
    // A drawn plot: a plotly div (class js-plotly-plot, set by newPlot) in an output, with at least one trace drawn.
    const plotDivs = page.locator('.output_area .js-plotly-plot');
    let failure: string | undefined;
    try {
      await plotDivs
        .nth(EXPECTED_PLOTS - 1)
        .locator('.plot-container .trace')
        .first()
        .waitFor({ state: 'attached', timeout });
    } catch {
      failure = `${EXPECTED_PLOTS} plots not drawn within ${timeout / 1000} s`;
    }
    let plots = 0;
    for (let index = 0; index < (await plotDivs.count()); index += 1) if ((await plotDivs.nth(index).locator('.plot-container .trace').count()) > 0) plots += 1;
    const trusted = ((await page.locator('#notification_trusted').allTextContents())[0] ?? '').trim();
    const messages = (await page.locator('.zsd-plot').allTextContents()).filter((text) => text.startsWith('plotly.js is not loaded'));
    // Let the plots finish their transitions before the picture.
    await page.waitForTimeout(500);
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    if (failure || plots < EXPECTED_PLOTS) {
      throw new ZsdError(
        'internal',
        `the executed notebook showed ${plots} of ${EXPECTED_PLOTS} plotly plots (${failure ?? 'incomplete'}; trust indicator: "${trusted}"` +
          `${messages.length > 0 ? `; messages: ${messages.join(' | ')}` : ''}); screenshot: ${screenshot}`,
      );
    }
    const seconds = (Date.now() - started) / 1000;
    log(`render check: ${plots} plots rendered in ${seconds.toFixed(1)} s; screenshot ${screenshot}`);
    return { plots, screenshot, seconds };
  } finally {
    if (browser) await browser.close();
    if (server) await stopServer(server);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  checkNotebookRender().then(
    () => undefined,
    (error: unknown) => {
      process.stderr.write(`check:notebook-render: ${isZsdError(error) ? error.message : ((error as Error)?.stack ?? String(error))}\n`);
      process.exitCode = 1;
    },
  );
}
