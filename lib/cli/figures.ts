import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { ImageFormat } from '../analytics/render';
import { renderFigureFiles } from '../pipeline/render-figures';
import { addCommonOptions, parseNameList, type CommonOptions } from './options';

interface FiguresOptions extends CommonOptions {
  out?: string;
  only?: string[];
  formats: ImageFormat[];
}

/** `zsd figures` (lib/pipeline/render-figures.ts): the analytics figures as `<out>/<name>.png`, `.svg` and `.json`. */
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
  const { outDir, rendered, seconds } = await renderFigureFiles({
    ...options,
    onEvent: (event) => event.kind === 'info' && process.stderr.write(`${event.message}\n`),
  });
  if (rendered.length === 0) {
    process.stderr.write('figures: no figures to render\n');
    return;
  }
  const shown = (file: string): string => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  for (const figure of rendered) process.stdout.write(`${figure.files.map(shown).join('  ')}\n`);
  process.stderr.write(`figures: ${rendered.length} figure(s) in ${outDir} in ${seconds.toFixed(1)} s\n`);
}

function parseFormats(value: string): ImageFormat[] {
  const formats = parseNameList(value);
  const bad = formats.filter((format) => format !== 'png' && format !== 'svg');
  if (bad.length > 0) throw new InvalidArgumentError(`expected png, svg or png,svg, got "${value}"`);
  return formats as ImageFormat[];
}
