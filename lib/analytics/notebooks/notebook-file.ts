import * as fs from 'node:fs';
import { ZsdError } from '../../core/errors';

/** Notebook files (nbformat 4) as the repo keeps them: written by hand or by tests, committed without outputs. */

export interface NotebookCell {
  id?: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
}

export interface NotebookFile {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

/** The kernel the repo's notebooks name (notebooks/.jupyter/kernels/zsd). */
export const ZSD_KERNELSPEC = { name: 'zsd', display_name: 'zsd (TypeScript)', language: 'typescript' } as const;

/** A clean nbformat-4 notebook for the zsd kernel; a string is a code cell, `{ markdown }` a text cell. */
export function createNotebook(cells: readonly (string | { markdown: string })[]): NotebookFile {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { ...ZSD_KERNELSPEC }, language_info: { name: 'typescript' } },
    cells: cells.map((cell, index) =>
      typeof cell === 'string'
        ? { id: `cell-${index}`, cell_type: 'code', source: cell, metadata: {}, outputs: [], execution_count: null }
        : { id: `cell-${index}`, cell_type: 'markdown', source: cell.markdown, metadata: {} },
    ),
  };
}

export function readNotebook(file: string): NotebookFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `not a JSON notebook: ${(error as Error).message}`, { file });
  }
  const notebook = parsed as Partial<NotebookFile>;
  if (typeof notebook !== 'object' || notebook === null || notebook.nbformat !== 4 || !Array.isArray(notebook.cells)) {
    throw new ZsdError('invalid-file', 'expected an nbformat 4 notebook (an object with "nbformat": 4 and a "cells" array)', { file });
  }
  for (const cell of notebook.cells) joinMultilineStrings(cell);
  return notebook as NotebookFile;
}

/** nbformat stores sources, stream texts and text MIME data as strings or lists of lines; one string is easier to read. */
function joinMultilineStrings(cell: NotebookCell): void {
  const join = (value: unknown): unknown => (Array.isArray(value) && value.every((line) => typeof line === 'string') ? value.join('') : value);
  cell.source = join(cell.source) as string;
  for (const output of (cell.outputs ?? []) as { text?: unknown; data?: Record<string, unknown> }[]) {
    if ('text' in output) output.text = join(output.text);
    for (const mime of Object.keys(output.data ?? {})) if (!mime.endsWith('json')) output.data![mime] = join(output.data![mime]);
  }
}

/**
 * What executing left in a notebook that should be committed clean: outputs, execution counts, timing metadata.
 * One line per problem, naming the cell; empty when clean. `npm run notebooks:clear` removes them.
 */
export function executionLeftovers(notebook: NotebookFile): string[] {
  const problems: string[] = [];
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code') return;
    const where = `cell ${index + 1} (index ${index})`;
    if (Array.isArray(cell.outputs) && cell.outputs.length > 0) problems.push(`${where} has ${cell.outputs.length} output(s)`);
    if (cell.execution_count !== null && cell.execution_count !== undefined) problems.push(`${where} has execution_count ${cell.execution_count}`);
    if (cell.metadata && 'execution' in cell.metadata) problems.push(`${where} has execution timing metadata`);
  });
  return problems;
}
