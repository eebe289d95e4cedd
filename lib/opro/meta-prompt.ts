import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { workspaceLayers, type Workspace } from '../core/paths';
import type { ExampleRow } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import { compareScored, type ScoredInstruction } from './run-log';

/**
 * The meta-prompt: what the optimiser LLM reads each round. A template text with placeholders in the study's
 * style (`<[NAME]>`), found in this order:
 *   1. `--meta-prompt FILE`;
 *   2. `prompt-templates/opro/<task>.txt` in the workspace (your own);
 *   3. `opro/meta-prompts/<task>.txt` in a read-only layer: the study's meta-prompts (anli1, cqa);
 *   4. the built-in template below (any task), which shows example rows of the search sample.
 * Placeholders: `<[PREVIOUS_BEST]>` (required): the best instructions so far with their scores, worst first
 * (OPRO's order: the best sits next to the request); `<[CANDIDATES]>`: how many to propose; `<[EXAMPLES]>`:
 * example problems with their answers; `<[PLACEHOLDERS]>`: the task's `{fields}`; `<[ROUND]>`.
 * The study's texts ask for one template. With more than one candidate per round and no `<[CANDIDATES]>`, a last
 * paragraph asks for that many, each between <PRT> and </PRT>.
 * Rendering is a pure function of the template, the log's scored instructions, the round and the settings,
 * so a resumed round sends the very same request (a store hit) as the interrupted one did.
 */

export const PREVIOUS_BEST = '<[PREVIOUS_BEST]>';
export const CANDIDATES = '<[CANDIDATES]>';
export const EXAMPLES = '<[EXAMPLES]>';
export const PLACEHOLDERS = '<[PLACEHOLDERS]>';
export const ROUND = '<[ROUND]>';

export const BUILT_IN_META_PROMPT = `Your task is to generate prompt templates <PRT>. Below are some previous prompt templates with their scores.
The score ranges from 0 to 100.

${PREVIOUS_BEST}

Below are some problems.

${EXAMPLES}

Generate ${CANDIDATES} new prompt templates that are different from all the prompt templates <PRT> above and from each other, and that HAVE HIGHER SCORES than all the prompt templates <PRT> above.
Each prompt template should begin with <PRT> and end with </PRT>.
The prompt templates should be concise, effective, and generally applicable to all problems above.
The response to a prompt template should be easy to parse: the answer first, then a one-sentence explanation.
Each prompt template must include the placeholders ${PLACEHOLDERS}.
`;

export interface MetaPromptTemplate {
  text: string;
  /** The file it came from, or 'built-in'. */
  source: string;
}

export function workspaceMetaPromptFile(workspaceRoot: string, task: string): string {
  return path.join(workspaceRoot, 'prompt-templates', 'opro', `${task}.txt`);
}

export function loadMetaPromptTemplate(workspace: Workspace, task: string, override?: string): MetaPromptTemplate {
  const candidates =
    override !== undefined
      ? [path.resolve(override)]
      : [workspaceMetaPromptFile(workspace.root, task), ...workspace.readLayers.map((layer) => path.join(layer, 'opro', 'meta-prompts', `${task}.txt`))];
  for (const file of candidates) {
    if (!fs.existsSync(file)) {
      if (override !== undefined) throw new ZsdError('not-found', `--meta-prompt ${file} does not exist`);
      continue;
    }
    const text = fs.readFileSync(file, 'utf8');
    checkMetaPromptTemplate(text, file);
    return { text, source: file };
  }
  return { text: BUILT_IN_META_PROMPT, source: 'built-in' };
}

export function checkMetaPromptTemplate(text: string, file: string): void {
  if (!text.includes(PREVIOUS_BEST)) {
    throw new ZsdError('invalid-file', `a meta-prompt needs the placeholder ${PREVIOUS_BEST}, where the best instructions so far go`, { file });
  }
  const unknown = [...text.matchAll(/<\[([A-Z_]+)\]>/g)]
    .map((match) => match[0])
    .filter((name) => ![PREVIOUS_BEST, CANDIDATES, EXAMPLES, PLACEHOLDERS, ROUND].includes(name));
  if (unknown.length > 0) {
    throw new ZsdError('invalid-file', `unknown placeholder ${unknown[0]}; expected ${[PREVIOUS_BEST, CANDIDATES, EXAMPLES, PLACEHOLDERS, ROUND].join(', ')}`, {
      file,
    });
  }
}

/** The optimiser's score: accuracy in percent, rounded (the study's "score ranges from 0 to 100"). */
export function scoreOf(accuracy: number): number {
  return Math.round(accuracy * 100);
}

/** The `keepBest` best scored instructions, worst of them first. */
export function selectPreviousBest(scored: readonly ScoredInstruction[], keepBest: number): ScoredInstruction[] {
  return [...scored].sort(compareScored).slice(0, keepBest).reverse();
}

export function renderPreviousBest(previous: readonly ScoredInstruction[]): string {
  return previous.map((entry) => `template:\n<PRT>${entry.instruction}</PRT>\nscore:\n${scoreOf(entry.accuracy)}`).join('\n\n');
}

/** The placeholders a candidate of the task must use: every prompt field except the gold label. */
export function requiredPlaceholders(task: TaskDefinition): string[] {
  return task.promptFields.filter((field) => field !== 'label');
}

/** Example problems in the study's format: each field quoted, a `template: <PRT>` line, the ground truth. */
export function renderExamples(task: TaskDefinition, rows: readonly ExampleRow[]): string {
  return rows
    .map((row) => {
      const fields = requiredPlaceholders(task).map((field) => `${field}: ${JSON.stringify(row.promptValues[field] ?? '')}`);
      return ['Problem:', ...fields, 'template: <PRT>', 'Ground truth answer:', row.goldLabel].join('\n');
    })
    .join('\n\n');
}

export interface MetaPromptValues {
  previousBest: readonly ScoredInstruction[];
  candidates: number;
  examples: string;
  task: TaskDefinition;
  round: number;
}

export function renderMetaPrompt(template: string, values: MetaPromptValues): string {
  const placeholders = requiredPlaceholders(values.task).map((field) => `{${field}}`);
  const listed = placeholders.length > 1 ? `${placeholders.slice(0, -1).join(', ')} and ${placeholders[placeholders.length - 1]}` : (placeholders[0] ?? '');
  const fills: Record<string, string> = {
    [PREVIOUS_BEST]: renderPreviousBest(values.previousBest),
    [CANDIDATES]: String(values.candidates),
    [EXAMPLES]: values.examples,
    [PLACEHOLDERS]: listed,
    [ROUND]: String(values.round),
  };
  // One pass, so that text filled in (an instruction, an example) is never read as a placeholder.
  let text = template.replace(/<\[[A-Z_]+\]>/g, (name) => fills[name] ?? name);
  if (values.candidates > 1 && !template.includes(CANDIDATES)) {
    text = `${text.trimEnd()}\nWrite ${values.candidates} such prompt templates, each different from the others, each beginning with <PRT> and ending with </PRT>.`;
  }
  return text;
}
