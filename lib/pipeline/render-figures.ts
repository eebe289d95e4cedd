import * as path from 'node:path';
import { buildFigures } from '../analytics/figures';
import { renderFigures, type ImageFormat, type RenderedFigure } from '../analytics/render';
import { ZsdError } from '../core/errors';
import { assertWritable } from '../core/paths';
import { ignoreEvents, type OnPipelineEvent } from './events';
import { resolveRoots, type RootOptions } from './roots';

/** The analytics figures as static files (`zsd figures`): `<out>/<name>.png`, `.svg` and `.json`. */
export interface RenderFigureFilesOptions extends RootOptions {
  /** output directory (default: <workspace>/analytics) */
  out?: string;
  /** figure names to render (default: all); an unknown name is a usage error listing the figures */
  only?: readonly string[];
  /** image formats (default png and svg); the JSON is always written */
  formats?: readonly ImageFormat[];
  onEvent?: OnPipelineEvent;
}

export interface RenderFigureFilesResult {
  outDir: string;
  rendered: RenderedFigure[];
  seconds: number;
}

export async function renderFigureFiles(options: RenderFigureFilesOptions): Promise<RenderFigureFilesResult> {
  const started = Date.now();
  const onEvent = options.onEvent ?? ignoreEvents;
  const { dataRoot, workspace } = resolveRoots(options);
  const outDir = path.resolve(options.out ?? path.join(workspace.root, 'analytics'));
  assertWritable(outDir, dataRoot);

  const all = await buildFigures({ dataRoot, workspace });
  let figures = all;
  if (options.only) {
    const only = options.only;
    const known = new Set(all.map((figure) => figure.name));
    const unknown = only.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new ZsdError(
        'usage',
        `--only: no figure named ${unknown.map((name) => `"${name}"`).join(', ')}; the figures are: ${[...known].join(', ') || 'none'}`,
      );
    }
    figures = all.filter((figure) => only.includes(figure.name));
  }
  const rendered =
    figures.length === 0
      ? []
      : await renderFigures(figures, outDir, { formats: options.formats ?? ['png', 'svg'], log: (message) => onEvent({ kind: 'info', message }) });
  return { outDir, rendered, seconds: (Date.now() - started) / 1000 };
}
