import * as fs from 'node:fs';
import { ZsdError } from '../core/errors';
import type { NamedFigure, PlotlyFigure } from './figure';

/**
 * Rich output for notebooks run by the zsd kernel (tslab): `display(figure)` and `displayTable(rows)`.
 *
 * A figure goes out as one MIME bundle: `application/vnd.plotly.v1+json` (JupyterLab with the plotly extension draws
 * it natively), `text/html` (a div and a script calling `Plotly.newPlot`, for the classic notebook and for JupyterLab
 * without the extension) and `text/plain`. The HTML has no network dependency: the classic notebook ships require.js
 * but no plotly, so a require.js path would have to point at a CDN. Instead the first figure a kernel shows carries
 * plotly.js-dist-min inline (about 4.8 MB, which sets `window.Plotly`), and later figures reuse it. After clearing
 * that output, run the notebook again from the top (a kernel restart inlines it again).
 *
 * Compiled by tslab's bundled TypeScript 5.0 when a notebook imports it: keep to TS 5.0 features and plain imports.
 */

export interface MimeBundle {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export const PLOTLY_MIME_TYPE = 'application/vnd.plotly.v1+json';

/** Shows a plotly figure (or a NamedFigure's figure) as the output of the current notebook cell. */
export function display(figure: PlotlyFigure | NamedFigure): void {
  const writer = jupyterDisplayWriter();
  const inlinePlotly = !plotlyInlined();
  writer({ ...figureBundle(figure, { inlinePlotly }), transient: {} }, false);
  if (inlinePlotly) markPlotlyInlined();
}

/** Shows rows (objects with the same keys, or an arquero table) as an HTML table with a text fallback. */
export function displayTable(rows: TableRows, options: TableOptions = {}): void {
  jupyterDisplayWriter()({ ...tableBundle(rows, options), transient: {} }, false);
}

// ---- bundles (pure; what display() sends) ----

export function figureBundle(figure: PlotlyFigure | NamedFigure, options: { inlinePlotly: boolean; plotlySource?: string }): MimeBundle {
  const named = isNamedFigure(figure) ? figure : undefined;
  const plotly = named ? named.figure : (figure as PlotlyFigure);
  if (!plotly || !Array.isArray(plotly.data)) {
    throw new ZsdError('usage', `display() expects a plotly figure with a data array${named ? ` (figure "${named.name}")` : ''}`);
  }
  const json = toPlainJson(plotly);
  const elementId = `zsd-plot-${randomId()}`;
  const loader = options.inlinePlotly ? `<script type="text/javascript">${escapeScript(options.plotlySource ?? plotlyBundleSource())}</script>\n` : '';
  const html =
    `<div id="${elementId}" class="zsd-plot" style="width:100%;min-height:${plotHeight(plotly)}px"></div>\n` +
    loader +
    `<script type="text/javascript">${escapeScript(drawScript(elementId, json))}</script>`;
  return {
    data: { [PLOTLY_MIME_TYPE]: json, 'text/html': html, 'text/plain': describeFigure(plotly, named) },
    metadata: {},
  };
}

/** A table's rows: plain objects, or anything with `objects()` (an arquero table). */
export type TableRows = readonly Record<string, unknown>[] | { objects(): Record<string, unknown>[] };

export interface TableOptions {
  /** Columns to show, in order (default: the keys of the rows, in first-seen order). */
  columns?: readonly string[];
  /** Rows to show before "… N more rows" (default 50). */
  maxRows?: number;
  /** Decimal places for non-integer numbers (default 4). */
  digits?: number;
  caption?: string;
}

export function tableBundle(rows: TableRows, options: TableOptions = {}): MimeBundle {
  const all = isObjectsSource(rows) ? rows.objects() : rows;
  if (!Array.isArray(all)) throw new ZsdError('usage', 'displayTable() expects an array of row objects or an arquero table');
  const columns = options.columns ? [...options.columns] : columnNames(all);
  const maxRows = options.maxRows ?? 50;
  const shown = all.slice(0, maxRows);
  const cells = shown.map((row) => columns.map((column) => formatCell(row[column], options.digits ?? 4)));
  const numeric = columns.map(
    (column) => shown.some((row) => typeof row[column] === 'number') && shown.every((row) => row[column] == null || typeof row[column] === 'number'),
  );
  const more = all.length > shown.length ? `… ${all.length - shown.length} more rows (${all.length} in all)` : '';

  const align = (index: number): string => (numeric[index] ? ' style="text-align:right"' : ' style="text-align:left"');
  const html = [
    '<table class="zsd-table">',
    options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '',
    `<thead><tr>${columns.map((column, index) => `<th${align(index)}>${escapeHtml(column)}</th>`).join('')}</tr></thead>`,
    `<tbody>${cells.map((row) => `<tr>${row.map((cell, index) => `<td${align(index)}>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
    more ? `<p><em>${escapeHtml(more)}</em></p>` : '',
  ].join('');

  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((row) => row[index].length)));
  const pad = (text: string, index: number): string => (numeric[index] ? text.padStart(widths[index]) : text.padEnd(widths[index]));
  const text = [
    ...(options.caption ? [options.caption] : []),
    columns.map(pad).join('  ').trimEnd(),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map((row) => row.map(pad).join('  ').trimEnd()),
    ...(more ? [more] : []),
  ].join('\n');
  return { data: { 'text/html': html, 'text/plain': text }, metadata: {} };
}

// ---- the kernel side ----

type DisplayWriter = (data: MimeBundle & { transient: Record<string, unknown> }, update: boolean) => void;

/**
 * tslab's own writer of display_data messages for the cell being executed. Its public `display.raw` sends one MIME
 * type per message; a bundle with several needs the internal `lastWriteDisplayData` of tslab/dist/jupyter.
 * Read from the module cache only: outside a kernel tslab is not loaded, and loading it (zeromq) would not help.
 */
function jupyterDisplayWriter(): DisplayWriter {
  let writer: DisplayWriter | null | undefined;
  try {
    const loaded = require.cache[require.resolve('tslab/dist/jupyter')];
    writer = loaded ? (loaded.exports as { lastWriteDisplayData?: DisplayWriter | null }).lastWriteDisplayData : undefined;
  } catch {
    writer = undefined;
  }
  if (typeof writer !== 'function') {
    throw new ZsdError('usage', 'display() and displayTable() work inside a notebook run by the zsd kernel (tslab); see notebooks/README.md');
  }
  return writer;
}

const PLOTLY_INLINED = Symbol.for('zsd.analytics.plotlyInlined');

// On globalThis rather than in this module, so that a module reloaded by tslab does not inline plotly again.
function plotlyInlined(): boolean {
  return (globalThis as Record<symbol, unknown>)[PLOTLY_INLINED] === true;
}

function markPlotlyInlined(): void {
  (globalThis as Record<symbol, unknown>)[PLOTLY_INLINED] = true;
}

let plotlySourceCache: string | undefined;

/** plotly.js-dist-min's bundle: a plain script that sets `window.Plotly` (it has no AMD define, so require.js is not involved). */
export function plotlyBundleSource(): string {
  if (plotlySourceCache === undefined) plotlySourceCache = fs.readFileSync(require.resolve('plotly.js-dist-min'), 'utf8');
  return plotlySourceCache;
}

// ---- helpers ----

function drawScript(elementId: string, figure: PlotlyFigure): string {
  const json = JSON.stringify({ data: figure.data, layout: figure.layout ?? {}, config: { responsive: true, ...(figure.config ?? {}) } });
  // Outputs render in order, so window.Plotly is normally there; the retries cover renderers that insert outputs asynchronously.
  return `(function () {
  var element = document.getElementById(${JSON.stringify(elementId)});
  var figure = ${json};
  var attempts = 0;
  function draw() {
    if (window.Plotly) { window.Plotly.newPlot(element, figure.data, figure.layout, figure.config); return; }
    if (++attempts < 50) { setTimeout(draw, 100); return; }
    element.textContent = 'plotly.js is not loaded in this page: run the notebook again from the top (Kernel > Restart & Run All).';
  }
  draw();
})();`;
}

/** Makes text safe inside <script>…</script>: no closing tag, no HTML comment opener, no JS line separators. */
function escapeScript(source: string): string {
  return source
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function isNamedFigure(value: PlotlyFigure | NamedFigure): value is NamedFigure {
  return typeof (value as NamedFigure).name === 'string' && typeof (value as NamedFigure).figure === 'object';
}

function isObjectsSource(rows: TableRows): rows is { objects(): Record<string, unknown>[] } {
  return !Array.isArray(rows) && typeof (rows as { objects?: unknown }).objects === 'function';
}

function plotHeight(figure: PlotlyFigure): number {
  const height = figure.layout?.height;
  return typeof height === 'number' && height > 0 ? height : 450;
}

function describeFigure(figure: PlotlyFigure, named: NamedFigure | undefined): string {
  const title = named?.title ?? layoutTitle(figure);
  const types = [...new Set(figure.data.map((trace) => (typeof trace.type === 'string' ? trace.type : 'scatter')))];
  const traces = `${figure.data.length} trace${figure.data.length === 1 ? '' : 's'}${types.length > 0 ? ` (${types.join(', ')})` : ''}`;
  return `Plotly figure${named ? ` ${named.name}` : ''}${title ? `: ${title}` : ''}, ${traces}`;
}

function layoutTitle(figure: PlotlyFigure): string | undefined {
  const title = figure.layout?.title;
  if (typeof title === 'string') return title;
  if (title && typeof title === 'object' && typeof (title as { text?: unknown }).text === 'string') return (title as { text: string }).text;
  return undefined;
}

function columnNames(rows: readonly Record<string, unknown>[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) names.add(key);
  return [...names];
}

function formatCell(value: unknown, digits: number): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? String(value);
}

/** The figure as JSON the notebook file can hold (drops undefined, turns typed arrays into arrays). */
function toPlainJson(figure: PlotlyFigure): PlotlyFigure {
  return JSON.parse(
    JSON.stringify(figure, (_key, value) =>
      ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value,
    ),
  );
}

function randomId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
