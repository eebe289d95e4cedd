import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, type Document, type LineCounter } from 'yaml';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { NumpyRandomState, numpyPermutationOfRange } from '../core/numpy-random';
import { workspaceLayers, type Workspace } from '../core/paths';
import { lineOfKey as lineOf, readYamlFile, scalarSource as sourceOf } from '../core/yaml';
import { summarizeIds, type TemplateSet } from './templates';

/**
 * Prompt mixes: `prompt-mixes/<id>.yaml` in a workspace, in the study's format
 * `seed: 405`, `label: {template_id: fraction}`, `explanation: {template_id: fraction}`.
 * A mix annotates a split with several templates: each part (labels, explanations) says which share of the
 * rows each template answers.
 *
 * Why row assignment is exact: the study cut its rows with numpy (`np.random.seed(seed)`, shuffle
 * `arange(n)`, consecutive blocks of `int(fraction * n)` rows in the file's key order, the rounding remainder
 * to the last block). zsd must regenerate the study's training files byte for byte, so it uses the same
 * generator (lib/core/numpy-random), the same float arithmetic and the same key order. Reordering the keys of
 * a part (e.g. `{100: 0.5, 32: 0.5}`) changes which rows each template gets.
 *
 * Why the same seed for both parts: each part re-seeds with the mix's seed, so both parts see the same
 * shuffled order. Where the two parts use the same templates with the same fractions, one template's label
 * rows and explanation rows are the same rows, answered by one query; with different seeds they would be
 * scattered and most rows would need two queries.
 *
 * Also here: the study's explanation-rate subsampling of the train split (numpy seed 100).
 */

export type MixPart = { templateId: number; fraction: number }[];

export interface PromptMix {
  id: string;
  seed: number;
  /** Which templates give the labels, in the file's key order (blocks are cut in this order). */
  label: MixPart;
  /** Which templates give the explanations, in the file's key order. */
  explanation: MixPart;
  file: string;
}

export const MIX_PART_NAMES = ['label', 'explanation'] as const;
export type MixPartName = (typeof MIX_PART_NAMES)[number];

/** Fractions of a part may miss 1 by this much (decimal fractions such as 0.1 + 0.2 + 0.7 are not exact). */
export const FRACTION_SUM_TOLERANCE = 1e-9;

/** The seed of the study's explanation-rate subsampling (`np.random.seed(100)`). */
export const EXPLANATION_SUBSAMPLE_SEED = 100;

const PART_EXAMPLE = 'e.g. {1: 0.5, 2: 0.5}';

const templateIdMessage = (input: unknown) => `template ids are non-negative integers, got ${describeValue(input)}`;

const templateIdSchema = z
  .number({ error: (issue) => templateIdMessage(issue.input) })
  .refine((value) => Number.isSafeInteger(value) && value >= 0, { error: (issue) => templateIdMessage(issue.input) });

const fractionSchema = z
  .number({ error: (issue) => `expected a fraction greater than 0 and at most 1, got ${describeValue(issue.input)}` })
  .refine((value) => value > 0 && value <= 1, {
    error: (issue) => `expected a fraction greater than 0 and at most 1, got ${describeValue(issue.input)}`,
  });

function partSchema(name: MixPartName) {
  return z
    .map(templateIdSchema, fractionSchema, {
      error: (issue) =>
        issue.input === undefined
          ? `missing key ${name}: expected a mapping of template id to fraction, ${PART_EXAMPLE}`
          : `expected a mapping of template id to fraction, ${PART_EXAMPLE}, got ${describeValue(issue.input)}`,
    })
    .refine((map) => map.size > 0, { error: `${name} lists no template; expected at least one, ${PART_EXAMPLE}` });
}

const seedMessage = (input: unknown) =>
  input === undefined
    ? 'missing key seed: expected a non-negative integer below 2**32 (numpy seed)'
    : `seed must be a non-negative integer below 2**32 (numpy seed), got ${describeValue(input)}`;

const mixFileSchema = z.strictObject(
  {
    seed: z
      .number({ error: (issue) => seedMessage(issue.input) })
      .refine((value) => Number.isInteger(value) && value >= 0 && value < 2 ** 32, { error: (issue) => seedMessage(issue.input) }),
    label: partSchema('label'),
    explanation: partSchema('explanation'),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key ${issue.keys.join(', ')}; a prompt mix has the keys seed, label and explanation`
        : issue.input === undefined || issue.input === null
          ? 'the file is empty; expected a mapping with the keys seed, label and explanation'
          : `expected a mapping with the keys seed, label and explanation, got ${describeValue(issue.input)}`,
  },
);

/** Mix ids name files: digits, letters, "-", "_", "." (no path separators, no leading dot). */
const MIX_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The first layer of the workspace (the user's, then the recorded study) that has `prompt-mixes/<id>.yaml`. */
export function findMixFile(workspace: Workspace, id: string): string {
  if (!MIX_ID_PATTERN.test(id)) {
    throw new ZsdError('usage', `prompt mix id must be a file name such as 3 or my-mix (letters, digits, "-", "_", "."), got ${JSON.stringify(id)}`);
  }
  const layers = workspaceLayers(workspace);
  for (const layer of layers) {
    const candidate = path.join(layer, 'prompt-mixes', `${id}.yaml`);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new ZsdError('not-found', `no prompt mix "${id}": looked for prompt-mixes/${id}.yaml in ${layers.join(', ')}`);
}

/** Reads and validates a mix; with `templates`, every template id must exist in them. Writes nothing. */
export function loadMix(workspace: Workspace, id: string, templates?: TemplateSet): PromptMix {
  return loadMixFile(findMixFile(workspace, id), templates, id);
}

export function loadMixFile(file: string, templates?: TemplateSet, id = path.basename(file).replace(/\.ya?ml$/, '')): PromptMix {
  const { document, lineCounter } = readYamlFile(file);
  const raw = document.toJS({ mapAsMap: true }) as unknown;
  // Keys stay numbers in file order inside a Map; a plain object would reorder integer keys (32 before 100).
  const input = raw instanceof Map ? Object.fromEntries([...raw.entries()].map(([key, value]) => [String(key), value])) : raw;
  const parsed = mixFileSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const issuePath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
    const key = issuePath.map(String).join('.');
    throw new ZsdError('invalid-file', issue.message, { file, key: key || undefined, line: lineOf(document, lineCounter, issuePath) });
  }
  const location = (key: string, pathParts: readonly PropertyKey[]) => ({ file, key, line: lineOf(document, lineCounter, pathParts) });

  // YAML turns 405.0 into the number 405; PyYAML keeps a float, which np.random.seed rejects.
  if (looksLikeFloat(document.get('seed', true))) {
    throw new ZsdError(
      'invalid-file',
      `seed must be an integer (numpy rejects a float seed), got ${sourceOf(document.get('seed', true))}`,
      location('seed', ['seed']),
    );
  }

  const parts = {} as Record<MixPartName, MixPart>;
  for (const name of MIX_PART_NAMES) {
    const node = document.get(name, true);
    const entries = parsed.data[name];
    if (isMap(node)) {
      for (const pair of node.items) {
        if (looksLikeFloat(pair.key)) {
          throw new ZsdError(
            'invalid-file',
            `template ids are non-negative integers, got ${sourceOf(pair.key)}`,
            location(`${name}.${sourceOf(pair.key)}`, [name, sourceOf(pair.key)]),
          );
        }
      }
      if (node.items.length !== entries.size) {
        throw new ZsdError('invalid-file', `a template is listed twice (${node.items.length} keys, ${entries.size} distinct ids)`, location(name, [name]));
      }
    }
    const part: MixPart = [...entries].map(([templateId, fraction]) => ({ templateId, fraction }));
    // Summed in key order, as Python's sum() would.
    const sum = part.reduce((total, entry) => total + entry.fraction, 0);
    if (Math.abs(sum - 1) > FRACTION_SUM_TOLERANCE) {
      throw new ZsdError(
        'invalid-file',
        `fractions of ${name} sum to ${sum}; expected 1 (within ${FRACTION_SUM_TOLERANCE}), so that every row gets a template`,
        location(name, [name]),
      );
    }
    if (templates) {
      for (const { templateId } of part) {
        if (!templates.templates.has(templateId)) {
          const key = `${name}.${templateId}`;
          throw new ZsdError(
            'not-found',
            `template ${templateId} in prompt-mixes/${path.basename(file)} (key ${key}) does not exist in prompt-templates/${path.basename(templates.file)}` +
              ` (its ids: ${summarizeIds([...templates.templates.keys()])})`,
            location(key, [name, templateId]),
          );
        }
      }
    }
    parts[name] = part;
  }
  return { id, seed: parsed.data.seed, label: parts.label, explanation: parts.explanation, file };
}

/**
 * Template id -> the row indices (of 0..n-1) it annotates, exactly as the study:
 * `np.random.seed(seed); idx = np.arange(n); np.random.shuffle(idx)`, then consecutive blocks of
 * `int(fraction * n)` rows in the part's order, the last block taking every row left over by the flooring.
 * Indices keep their shuffled order (the order of `idx`).
 *
 * `Math.trunc(fraction * n)` is Python's `int(fraction * n)`: both multiply IEEE-754 doubles with
 * round-to-nearest (n is exact below 2**53) and truncate, so int(0.29 * 100) == 28 here too.
 */
export function assignRows(part: MixPart, n: number, seed: number): Map<number, number[]> {
  if (!Number.isSafeInteger(n) || n < 0) throw new ZsdError('usage', `row count must be a non-negative integer, got ${String(n)}`);
  if (part.length === 0) throw new ZsdError('usage', 'a mix part needs at least one template');
  const ids = new Set(part.map((entry) => entry.templateId));
  if (ids.size !== part.length) throw new ZsdError('usage', `a mix part lists a template twice: ${part.map((entry) => entry.templateId).join(', ')}`);
  const shuffled = numpyPermutationOfRange(n, seed);
  const assignment = new Map<number, number[]>();
  let start = 0;
  part.forEach((entry, position) => {
    const isLast = position === part.length - 1;
    // Python slicing clamps to the end, so a (tolerated) sum just above 1 cannot run past n.
    const end = isLast ? n : Math.min(n, start + Math.trunc(entry.fraction * n));
    assignment.set(entry.templateId, shuffled.slice(start, end));
    start = end;
  });
  return assignment;
}

export interface MixAssignment {
  label: Map<number, number[]>;
  explanation: Map<number, number[]>;
}

/** Both parts of a mix, each from a fresh seeding with the mix's seed. */
export function mixAssignment(mix: PromptMix, n: number): MixAssignment {
  return { label: assignRows(mix.label, n, mix.seed), explanation: assignRows(mix.explanation, n, mix.seed) };
}

export interface RowTemplates {
  labelTemplate: number;
  explanationTemplate: number;
}

/** For each row 0..n-1, the template that gives its label and the one that gives its explanation. */
export function rowTemplates(mix: PromptMix, n: number): RowTemplates[] {
  const assignment = mixAssignment(mix, n);
  const labelOf = templatePerRow(assignment.label, n);
  const explanationOf = templatePerRow(assignment.explanation, n);
  return labelOf.map((labelTemplate, row) => ({ labelTemplate, explanationTemplate: explanationOf[row] }));
}

function templatePerRow(assignment: Map<number, number[]>, n: number): number[] {
  const perRow = new Array<number>(n).fill(-1);
  for (const [templateId, rows] of assignment) for (const row of rows) perRow[row] = templateId;
  const missing = perRow.indexOf(-1);
  if (missing !== -1) throw new ZsdError('internal', `row ${missing} of ${n} got no template`);
  return perRow;
}

/**
 * The study's explanation-rate subsampling of the train split: `np.random.seed(100)`, then for each row in
 * order that has an explanation one `np.random.random()`; the explanation is dropped when the draw is greater
 * than `rate`. Rows without an explanation stay false and draw nothing (so they shift no later draw).
 * Returns, per row, whether its explanation is kept.
 */
export function subsampleExplanations(hasExplanation: readonly boolean[], rate: number): boolean[] {
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
    throw new ZsdError('usage', `--explanation-rate must be between 0 and 1, got ${String(rate)}`);
  }
  const random = new NumpyRandomState(EXPLANATION_SUBSAMPLE_SEED);
  return hasExplanation.map((has) => has && !(random.random() > rate));
}

/** A plain scalar that YAML read as a number but PyYAML would read as a float (405.0, 1e3). */
function looksLikeFloat(node: unknown): boolean {
  if (!isScalar(node) || typeof node.value !== 'number') return false;
  const source = sourceOf(node);
  return !/^[-+]?0x/i.test(source) && /[.eE]/.test(source);
}

function describeValue(value: unknown): string {
  if (value instanceof Map) return 'a mapping';
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}
