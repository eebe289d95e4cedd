import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { ZsdError, isZsdError } from '../../core/errors';
import { packageRoot } from '../../core/paths';
import { launchChromium } from '../chromium';
import { PLOTLY_MIME_TYPE } from '../display';
import { stopServer } from './jupyter-server';
import { ensureJupyterLab, startJupyterLab, type JupyterLabServer } from './jupyterlab';

/**
 * The JupyterLab browser check (`npm run check:jupyterlab-render`): installs JupyterLab into .venv-jupyter/ if needed,
 * starts it on a free loopback port with a token, opens a copy of a notebook (default notebooks/05-students) in
 * headless Chromium, runs all cells from the Run menu, saves, and checks that every output the kernel sent with the
 * plotly MIME type is drawn by the jupyterlab-plotly renderer as an SVG plot (`.main-svg`), not as the HTML or text
 * fallback, and that no cell failed. Screenshots (the page, and each figure) go to the artefact folder either way.
 */

export interface JupyterLabRenderOptions {
  /** The notebook to run (default notebooks/05-students.ipynb); a copy is run, the file itself is not touched. */
  notebook?: string;
  /** Where screenshots go (default $ZSD_ARTIFACTS/jupyterlab-render, else .artifacts/jupyterlab-render in the repo). */
  artifacts?: string;
  /** Seconds for all cells to run (default 600: tslab compiles each cell, slow on a busy 2-core machine). */
  timeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface JupyterLabRenderResult {
  notebook: string;
  /** Code cells run. */
  cells: number;
  /** Outputs the kernel sent as plotly figures (read from the saved notebook). */
  figures: number;
  /** Of those, drawn natively as SVG in the page. */
  drawn: number;
  screenshots: string[];
  seconds: { install: number; server: number; run: number; total: number };
}

/** The folder for screenshots: $ZSD_ARTIFACTS/jupyterlab-render, else .artifacts/jupyterlab-render (gitignored). */
export function defaultArtifactsDirectory(): string {
  const base = process.env.ZSD_ARTIFACTS ? path.resolve(process.env.ZSD_ARTIFACTS) : path.join(packageRoot(), '.artifacts');
  return path.join(base, 'jupyterlab-render');
}

// Every cell attached to the page (figures out of view are drawn too), and no news or update requests.
const LAB_SETTINGS = {
  '@jupyterlab/notebook-extension:tracker': { windowingMode: 'none' },
  '@jupyterlab/apputils-extension:notification': { fetchNews: 'false', checkForUpdates: false },
};

export async function checkJupyterLabRender(options: JupyterLabRenderOptions = {}): Promise<JupyterLabRenderResult> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const source = path.resolve(options.notebook ?? path.join(packageRoot(), 'notebooks', '05-students.ipynb'));
  const name = path.basename(source);
  const artifacts = path.resolve(options.artifacts ?? defaultArtifactsDirectory());
  const timeout = (options.timeoutSeconds ?? 600) * 1000;
  const codeCells = clearedCopy(source);

  const installed = await ensureJupyterLab({ log: (line) => log(`jupyterlab check: ${line}`) });
  log(`jupyterlab check: JupyterLab ready (${installed.jupyter}) in ${installed.seconds.toFixed(1)} s`);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-jupyterlab-check-'));
  let server: JupyterLabServer | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    const root = path.join(scratch, 'notebooks');
    fs.mkdirSync(root);
    const copy = path.join(root, name);
    fs.writeFileSync(copy, `${JSON.stringify(codeCells.notebook, null, 1)}\n`);

    const serverStarted = Date.now();
    server = await startJupyterLab({
      jupyter: installed.jupyter,
      rootDirectory: root,
      token: randomBytes(24).toString('hex'),
      scratch,
      settings: LAB_SETTINGS,
    });
    const serverSeconds = (Date.now() - serverStarted) / 1000;
    log(`jupyterlab check: jupyter lab answers on ${server.base} after ${serverSeconds.toFixed(1)} s`);

    browser = await launchChromium();
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1400, height: 1000 });
    fs.rmSync(artifacts, { recursive: true, force: true });
    fs.mkdirSync(artifacts, { recursive: true });
    const screenshots: string[] = [];
    const runStarted = Date.now();
    let failure: string | undefined;
    let drawn = 0;
    let figures = 0;
    try {
      await page.goto(`${server.base}/lab/tree/${encodeURIComponent(name)}?token=${server.token}`, { waitUntil: 'load', timeout: 120_000 });
      const notebook = page
        .locator('.jp-NotebookPanel')
        .filter({ has: page.locator('.jp-Notebook') })
        .first();
      await notebook.locator('.jp-Cell').first().waitFor({ state: 'visible', timeout: 120_000 });
      await waitForKernelIdle(page, server, 120_000);
      log(`jupyterlab check: ${name} open with the zsd kernel; running all ${codeCells.count} code cells`);
      await runAllCells(page);
      await waitForAllCells(page, notebook, codeCells.count, timeout, log, server.log);
      const runSeconds = (Date.now() - runStarted) / 1000;
      log(`jupyterlab check: all cells ran in ${runSeconds.toFixed(1)} s; saving`);

      await page.keyboard.press('Control+s');
      const saved = await waitForSavedOutputs(copy, codeCells.count, 30_000);
      figures = saved.figures;
      if (saved.errors.length > 0) failure = `cells failed: ${saved.errors.join(' | ')}`;
      else if (figures === 0) failure = `the kernel sent no output with ${PLOTLY_MIME_TYPE} (did display() change?)`;

      // jupyterlab-plotly's renderer widget (it sets no data-mime-type on the output, unlike JupyterLab's own renderers).
      const plots = notebook.locator('.jp-OutputArea-output.jp-RenderedPlotly');
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        drawn = await plots.filter({ has: page.locator('svg.main-svg') }).count();
        if (drawn >= figures) break;
        await page.waitForTimeout(500);
      }
      const fallbacks = await notebook.locator('.jp-OutputArea-output .zsd-plot').count();
      const textOnly = (await notebook.locator('.jp-OutputArea-output[data-mime-type="text/plain"]').allTextContents()).filter((text) =>
        text.startsWith('Plotly figure'),
      ).length;
      if (!failure && (drawn < figures || fallbacks > 0 || textOnly > 0)) {
        failure =
          `${drawn} of ${figures} plotly outputs drawn as SVG by the plotly renderer` +
          `${fallbacks > 0 ? `; ${fallbacks} drawn by the HTML fallback` : ''}${textOnly > 0 ? `; ${textOnly} shown as the text fallback (is the jupyterlab-plotly extension installed?)` : ''}`;
      }
      for (let index = 0; index < (await plots.count()); index += 1) {
        const file = path.join(artifacts, `figure-${String(index + 1).padStart(2, '0')}.png`);
        await plots.nth(index).scrollIntoViewIfNeeded();
        await plots.nth(index).screenshot({ path: file });
        screenshots.push(file);
      }
      await notebook.locator('.jp-Cell').first().scrollIntoViewIfNeeded();
    } catch (error) {
      failure = failure ?? (isZsdError(error) ? error.message : (error as Error).message.split('\n')[0]);
    }
    const page0 = path.join(artifacts, 'page.png');
    await page.screenshot({ path: page0 }).then(
      () => screenshots.unshift(page0),
      () => undefined,
    );
    if (failure) throw new ZsdError('internal', `JupyterLab, ${name}: ${failure}; screenshots in ${artifacts}\n${tail(server.log.text, 30)}`);
    const runSeconds = (Date.now() - runStarted) / 1000;
    const total = (Date.now() - started) / 1000;
    log(`jupyterlab check: ${drawn} of ${figures} figures drawn natively in ${name}; ${total.toFixed(1)} s in all; screenshots in ${artifacts}`);
    return {
      notebook: name,
      cells: codeCells.count,
      figures,
      drawn,
      screenshots,
      seconds: { install: installed.seconds, server: serverSeconds, run: runSeconds, total },
    };
  } finally {
    if (browser) await browser.close();
    if (server) await stopServer(server.process);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

interface NotebookJson {
  cells: {
    cell_type: string;
    outputs?: { output_type: string; data?: Record<string, unknown>; ename?: string; evalue?: string; name?: string; text?: string | string[] }[];
    execution_count?: number | null;
  }[];
}

/** The notebook with its outputs cleared (so nothing drawn before counts), and its number of code cells. */
function clearedCopy(file: string): { notebook: NotebookJson; count: number } {
  let notebook: NotebookJson;
  try {
    notebook = JSON.parse(fs.readFileSync(file, 'utf8')) as NotebookJson;
  } catch (error) {
    throw new ZsdError('invalid-file', `not a readable notebook (${(error as Error).message})`, { file });
  }
  if (!Array.isArray(notebook.cells)) throw new ZsdError('invalid-file', 'a notebook needs a cells array', { file, key: 'cells' });
  let count = 0;
  for (const cell of notebook.cells) {
    if (cell.cell_type !== 'code') continue;
    cell.outputs = [];
    cell.execution_count = null;
    count += 1;
  }
  if (count === 0) throw new ZsdError('invalid-file', 'the notebook has no code cells to run', { file });
  return { notebook, count };
}

/**
 * Waits until the server has the notebook's zsd kernel idle with the page connected to it, and the page's indicator
 * says idle too (before the kernel starts the indicator also reads idle, and Run All then asks for a kernel).
 */
async function waitForKernelIdle(page: Page, server: JupyterLabServer, timeoutMs: number): Promise<void> {
  const indicator = page.locator('.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator').first();
  const deadline = Date.now() + timeoutMs;
  let state = 'no session';
  while (Date.now() < deadline) {
    const sessions = (await getJson(`${server.base}/api/sessions?token=${server.token}`).catch(() => [])) as {
      kernel?: { name?: string; execution_state?: string; connections?: number };
    }[];
    const kernel = sessions.find((session) => session.kernel?.name === 'zsd')?.kernel;
    state = kernel
      ? `${kernel.execution_state}, ${kernel.connections ?? 0} connections`
      : sessions.length > 0
        ? 'a session without the zsd kernel'
        : 'no session';
    if (
      kernel?.execution_state === 'idle' &&
      (kernel.connections ?? 0) > 0 &&
      (await indicator.getAttribute('data-status', { timeout: 1000 }).catch(() => null)) === 'idle'
    )
      return;
    await page.waitForTimeout(500);
  }
  throw new ZsdError(
    'internal',
    `the zsd kernel was not ready within ${timeoutMs / 1000} s (${state}); is notebooks/.jupyter on JUPYTER_PATH and tslab installed (npm ci)?`,
  );
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('error', reject);
    request.setTimeout(5000, () => request.destroy(new Error(`no answer from ${url}`)));
  });
}

/** Run > Run All Cells, as a person would. */
async function runAllCells(page: Page): Promise<void> {
  await page.locator('.lm-MenuBar-item', { hasText: /^Run$/ }).click();
  await page
    .locator('.lm-Menu-item')
    .filter({ has: page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }) })
    .click();
}

/** Waits until every code cell has an execution count and none is queued or running ([*]). */
async function waitForAllCells(
  page: Page,
  notebook: Locator,
  count: number,
  timeoutMs: number,
  log: (line: string) => void,
  serverLog: { text: string },
): Promise<void> {
  const prompts = notebook.locator('.jp-CodeCell .jp-InputArea-prompt');
  const deadline = Date.now() + timeoutMs;
  let reported = -1;
  while (Date.now() < deadline) {
    // A kernel that died (the server restarts it, and the page asks for a kernel) runs no more cells: fail now.
    if (/KernelRestarter: restarting kernel|Kernel .* died/i.test(serverLog.text)) {
      throw new ZsdError('internal', `the zsd kernel died after ${reported} of ${count} cells (the server restarted it); the kernel's output is below`);
    }
    const dialog = page.locator('.jp-Dialog');
    if ((await dialog.count()) > 0)
      throw new ZsdError('internal', `JupyterLab asked instead of running: "${((await dialog.first().textContent()) ?? '').trim().slice(0, 200)}"`);
    const texts = (await prompts.allTextContents()).map((text) => text.trim());
    const done = texts.filter((text) => /^\[\d+\]:$/.test(text)).length;
    if (done !== reported) {
      log(`jupyterlab check: ${done} of ${count} cells done`);
      reported = done;
    }
    if (texts.length === count && done === count) return;
    await page.waitForTimeout(1000);
  }
  throw new ZsdError('internal', `not all ${count} cells ran within ${timeoutMs / 1000} s (${reported} done)`);
}

/** Reads the saved copy until it holds every cell's execution; returns its plotly outputs and errors. */
async function waitForSavedOutputs(file: string, count: number, timeoutMs: number): Promise<{ figures: number; errors: string[] }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const notebook = JSON.parse(fs.readFileSync(file, 'utf8')) as NotebookJson;
      const code = notebook.cells.filter((cell) => cell.cell_type === 'code');
      if (code.length === count && code.every((cell) => typeof cell.execution_count === 'number')) {
        const outputs = code.flatMap((cell) => cell.outputs ?? []);
        return {
          figures: outputs.filter((output) => output.data && PLOTLY_MIME_TYPE in output.data).length,
          errors: outputs.filter((output) => output.output_type === 'error').map((output) => `${output.ename}: ${output.evalue}`),
        };
      }
    } catch {
      // mid-write: read again
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new ZsdError(
    'internal',
    `the saved ${path.basename(file)} did not hold all ${count} executed cells within ${timeoutMs / 1000} s (did Ctrl+S save it?)`,
  );
}

function tail(text: string, lines: number): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

if (require.main === module) {
  checkJupyterLabRender({ notebook: process.argv[2] }).then(
    () => undefined,
    (error: unknown) => {
      process.stderr.write(`check:jupyterlab-render: ${isZsdError(error) ? error.message : ((error as Error)?.stack ?? String(error))}\n`);
      process.exitCode = 1;
    },
  );
}
