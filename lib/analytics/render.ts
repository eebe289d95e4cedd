import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { launchChromium } from './chromium';
import type { NamedFigure, PlotlyFigure } from './figure';

/**
 * Static figures: each NamedFigure becomes `<outDir>/<name>.png`, `.svg` and `.json` (its numbers). One headless
 * Chromium loads plotly.js-dist-min once and calls `Plotly.toImage` per figure, so the files look like the
 * notebook's plots. Every file is written to a temporary name and renamed, so a crash leaves no half file.
 */

export type ImageFormat = 'png' | 'svg';

export interface RenderOptions {
  /** Image formats to write (default png and svg); the JSON is always written. */
  formats?: readonly ImageFormat[];
  /** Pixel size when the figure's layout has none (default 900 x 500). */
  width?: number;
  height?: number;
  /** PNG pixel ratio (default 2). */
  scale?: number;
  /** Chromium binary (default $ZSD_CHROMIUM or /usr/bin/chromium). */
  chromiumPath?: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface RenderedFigure {
  name: string;
  files: string[];
  milliseconds: number;
}

const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export async function renderFigures(figures: readonly NamedFigure[], outDir: string, options: RenderOptions = {}): Promise<RenderedFigure[]> {
  checkNames(figures);
  const formats = options.formats ?? ['png', 'svg'];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const results: RenderedFigure[] = [];
  if (figures.length === 0) return results;
  fs.mkdirSync(outDir, { recursive: true });

  const launched = Date.now();
  const browser = await launchChromium(options.chromiumPath);
  try {
    const page = await browser.context.newPage();
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
    await page.addScriptTag({ path: require.resolve('plotly.js-dist-min') });
    await page.waitForFunction(() => typeof (globalThis as unknown as { Plotly?: unknown }).Plotly === 'object');
    log(`figures: Chromium and plotly.js ready in ${Date.now() - launched} ms`);

    for (const [index, named] of figures.entries()) {
      const started = Date.now();
      const files: string[] = [];
      for (const format of formats) {
        const image = await toImage(page, named, format, options);
        files.push(writeBytesTo(path.join(outDir, `${named.name}.${format}`), image));
      }
      files.push(writeBytesTo(path.join(outDir, `${named.name}.json`), Buffer.from(`${JSON.stringify(named.data, null, 2)}\n`)));
      const milliseconds = Date.now() - started;
      results.push({ name: named.name, files, milliseconds });
      log(`figures: [${index + 1}/${figures.length}] ${named.name} (${[...formats, 'json'].join(', ')}) in ${milliseconds} ms`);
    }
  } finally {
    await browser.close();
  }
  return results;
}

async function toImage(page: Page, named: NamedFigure, format: ImageFormat, options: RenderOptions): Promise<Buffer> {
  const layout = named.figure.layout ?? {};
  const request = {
    figure: { data: named.figure.data, layout: { title: { text: named.title }, ...layout }, config: named.figure.config ?? {} },
    format,
    width: typeof layout.width === 'number' ? layout.width : (options.width ?? 900),
    height: typeof layout.height === 'number' ? layout.height : (options.height ?? 500),
    scale: format === 'png' ? (options.scale ?? 2) : 1,
  };
  let url: string;
  try {
    url = await page.evaluate(async ({ figure, format, width, height, scale }) => {
      const plotly = (globalThis as unknown as { Plotly: { toImage(figure: unknown, options: unknown): Promise<string> } }).Plotly;
      return plotly.toImage(figure, { format, width, height, scale });
    }, request);
  } catch (error) {
    throw new ZsdError('internal', `figure "${named.name}": Plotly.toImage(${format}) failed: ${(error as Error).message.split('\n')[0]}`, { key: named.name });
  }
  return decodeDataUrl(url, named.name);
}

/** Plotly returns PNG as base64 and SVG as a URI-encoded data URL. */
function decodeDataUrl(url: string, name: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new ZsdError('internal', `figure "${name}": Plotly.toImage returned no data URL`, { key: name });
  const header = url.slice(0, comma);
  const body = url.slice(comma + 1);
  // Chromium answers a canvas it cannot allocate with an empty "data:," URL.
  if (body === '') throw new ZsdError('internal', `figure "${name}": the rendered image is empty (is the figure too large?)`, { key: name });
  return header.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

function checkNames(figures: readonly NamedFigure[]): void {
  const seen = new Set<string>();
  for (const [index, named] of figures.entries()) {
    if (typeof named.name !== 'string' || !NAME_PATTERN.test(named.name)) {
      throw new ZsdError('usage', `figure ${index}: name ${JSON.stringify(named.name)} is not a kebab-case file name such as teacher-accuracy`, {
        key: `figures[${index}].name`,
      });
    }
    if (seen.has(named.name)) throw new ZsdError('usage', `two figures are named "${named.name}"`, { key: `figures[${index}].name` });
    seen.add(named.name);
    if (!isPlotlyFigure(named.figure)) throw new ZsdError('usage', `figure "${named.name}" has no plotly data array`, { key: `${named.name}.figure.data` });
  }
}

function isPlotlyFigure(figure: unknown): figure is PlotlyFigure {
  return typeof figure === 'object' && figure !== null && Array.isArray((figure as PlotlyFigure).data);
}

function writeBytesTo(file: string, content: Uint8Array): string {
  writeFileAtomic(file, content);
  return file;
}
