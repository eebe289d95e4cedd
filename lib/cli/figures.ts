import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ZsdError } from '../core/errors';
import { assertWritable } from '../core/paths';
import { buildFigures } from '../analytics/figures';
import { renderFigures, type ImageFormat } from '../analytics/render';
import { addCommonOptions, parseNameList, resolveRoots, type CommonOptions } from './options';

interface FiguresOptions extends CommonOptions {
  out?: string;
  only?: string[];
  formats: ImageFormat[];
}

/** `zsd figures`: the analytics figures as static files, `<out>/<name>.png`, `.svg` and `.json`. */
export function figuresCommand(): Command {
  const command = new Command('figures')
    .description('Render the analytics figures (headless Chromium + plotly.js) to <out>/<name>.png, .svg and .json (the plotted numbers)')
    .option('--out <dir>', 'output directory (default: <workspace>/analytics)')
    .option('--only <names>', 'comma-separated figure names to render (default: all)', parseNameList)
    .option('--formats <list>', 'image formats: png, svg or png,svg', parseFormats, ['png', 'svg'] as ImageFormat[]);
  addCommonOptions(command);
  return command.action((options: FiguresOptions) => runFigures(options));
}

export async function runFigures(options: FiguresOptions): Promise<void> {
  const started = Date.now();
  const { dataRoot, workspace } = resolveRoots(options);
  const outDir = path.resolve(options.out ?? path.join(workspace.root, 'analytics'));
  assertWritable(outDir, dataRoot);

  const all = await buildFigures({ dataRoot, workspace });
  let figures = all;
  if (options.only) {
    const known = new Set(all.map((figure) => figure.name));
    const unknown = options.only.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new ZsdError('usage', `--only: no figure named ${unknown.map((name) => `"${name}"`).join(', ')}; the figures are: ${[...known].join(', ') || 'none'}`);
    }
    figures = all.filter((figure) => options.only!.includes(figure.name));
  }
  if (figures.length === 0) {
    process.stderr.write('figures: no figures to render\n');
    return;
  }
  const rendered = await renderFigures(figures, outDir, { formats: options.formats });
  const shown = (file: string): string => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  for (const figure of rendered) process.stdout.write(`${figure.files.map(shown).join('  ')}\n`);
  process.stderr.write(`figures: ${rendered.length} figure(s) in ${outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

function parseFormats(value: string): ImageFormat[] {
  const formats = parseNameList(value);
  const bad = formats.filter((format) => format !== 'png' && format !== 'svg');
  if (bad.length > 0) throw new InvalidArgumentError(`expected png, svg or png,svg, got "${value}"`);
  return formats as ImageFormat[];
}
