import { z } from 'zod';
import { ZsdError } from '../../core/errors';
import { resolveDataRoot } from '../../core/paths';
import { loadSplit, type ExampleRow } from '../../data/datasets';
import { getTask, NLI_LABELS, type TaskDefinition } from '../../data/tasks';
import type { CompletionRequest } from '../../teacher/replay-server';

/**
 * Scripted answers for OPRO's tests (`script`; replay and fallback stay as they are for every other prompt):
 * - optimiser: a prompt containing `optimizer.marker` (default "<PRT>") gets `optimizer.answers[i]`, where i
 *   numbers the distinct requests (prompt and sampling parameters) in order of first arrival: a request sent
 *   again (a resumed run whose answer was lost) gets the answer it got before. Past the list, an answer
 *   without any <PRT> candidate.
 * - scorer: a prompt that contains a row of `scorer.task`'s `scorer.split` (nli: premise and hypothesis;
 *   multiple choice: question and choices; math: question; generic: input; the longest match wins) is answered
 *   with that row's gold label when u(row) < p, else with a wrong label, where u(row) is a hash of the row in
 *   [0, 1) and p is the `accuracy` of the first rule whose `contains` text the prompt contains (else
 *   `scorer.accuracy`, default 0.5). So the answer is a deterministic function of (instruction, row), and a
 *   higher p is right on a superset of rows. An explanation sentence follows when a second hash of the row is
 *   below the rule's `explanationRate` (default 1). Answers read "c) <choice text>. <explanation>" (multiple
 *   choice), "<label>. <explanation>" (nli, spelled through `labelWords`; generic) or "<explanation> The answer
 *   is <number>." (math).
 * Scripted answers count as completions (and in byPrompt), never as misses.
 */

export interface FakeScriptRule {
  /** Text the prompt contains (the instruction's wording). */
  contains: string;
  /** Probability of the gold label, per row (deterministic per row). */
  accuracy: number;
  explanationRate?: number;
}

export interface FakeScript {
  optimizer?: { marker?: string; answers: readonly string[] };
  scorer?: {
    task: string;
    split: string;
    /** Data root of the task's dataset (default: $ZSD_DATA or ../shared/data). */
    dataRoot?: string;
    rules?: readonly FakeScriptRule[];
    /** p for prompts no rule matches (default 0.5). */
    accuracy?: number;
    explanationRate?: number;
    /** How labels are written in answers, e.g. {"entailment": "True"} (default: the label itself). */
    labelWords?: Readonly<Record<string, string>>;
  };
}

const probability = z.number().min(0).max(1);
const fakeScriptSchema = z.strictObject({
  optimizer: z.strictObject({ marker: z.string().min(1).optional(), answers: z.array(z.string()) }).optional(),
  scorer: z
    .strictObject({
      task: z.string().min(1),
      split: z.string().min(1),
      dataRoot: z.string().optional(),
      rules: z.array(z.strictObject({ contains: z.string().min(1), accuracy: probability, explanationRate: probability.optional() })).optional(),
      accuracy: probability.optional(),
      explanationRate: probability.optional(),
      labelWords: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

/** Validates a script (e.g. read from a JSON file), naming the key that is wrong. */
export function parseFakeScript(value: unknown, file = 'script'): FakeScript {
  const parsed = fakeScriptSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ZsdError(
    'invalid-file',
    `${issue.message}; expected {optimizer?: {marker?, answers: [string]}, scorer?: {task, split, rules?: [{contains, accuracy, explanationRate?}], accuracy?, explanationRate?, labelWords?}}`,
    {
      file,
      key: issue.path.map(String).join('.') || undefined,
    },
  );
}

/** fnv1a of a text with murmur3's finaliser (texts that differ in their last character land far apart), in [0, 1). */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return ((hash ^ (hash >>> 16)) >>> 0) / 4294967296;
}

const NO_MORE_CANDIDATES = 'I have no further prompt templates to suggest.';
const SCRIPTED_EXPLANATION = 'The scripted scorer gives this answer with a short explanation sentence.';

/** (prompt key, request) -> a scripted answer, or undefined for prompts the script does not cover. */
export function scriptedAnswerer(script: FakeScript): (prompt: string, request: CompletionRequest) => string | undefined {
  const optimizer = script.optimizer;
  const marker = optimizer?.marker ?? '<PRT>';
  const optimizerRequests = new Map<string, number>();
  const scorer = script.scorer ? scriptedScorer(script.scorer) : undefined;
  return (prompt, request) => {
    if (optimizer && prompt.includes(marker)) {
      const distinct = `${prompt}\u0000${samplingOf(request)}`;
      let index = optimizerRequests.get(distinct);
      if (index === undefined) {
        index = optimizerRequests.size;
        optimizerRequests.set(distinct, index);
      }
      return optimizer.answers[index] ?? NO_MORE_CANDIDATES;
    }
    return scorer?.(prompt);
  };
}

/** A request apart from its prompt: what makes two requests with the same prompt different ones. */
function samplingOf(request: CompletionRequest): string {
  const rest = Object.entries(request)
    .filter(([name]) => !['endpoint', 'messages', 'prompt', 'model', 'n', 'stream'].includes(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(rest);
}

function scriptedScorer(scorer: NonNullable<FakeScript['scorer']>): (prompt: string) => string | undefined {
  const roots = [resolveDataRoot(scorer.dataRoot)];
  const task = getTask(scorer.task, roots);
  const rows = loadSplit(task, scorer.split, roots).rows;
  const fields = rowFields(task);
  const prints = rows.map((row) => ({ row, texts: fields.map((field) => row.promptValues[field] ?? '').filter((text) => text !== '') }));
  return (prompt) => {
    let found: { row: ExampleRow; length: number } | undefined;
    for (const { row, texts } of prints) {
      if (texts.length === 0 || !prompt.includes(texts[0]) || !texts.every((text) => prompt.includes(text))) continue;
      const length = texts.reduce((sum, text) => sum + text.length, 0);
      if (!found || length > found.length) found = { row, length };
    }
    if (!found) return undefined;
    const { row } = found;
    const identity = fields.map((field) => row.promptValues[field] ?? '').join('\u0000');
    const rule = scorer.rules?.find((candidate) => prompt.includes(candidate.contains));
    const correct = unitHash(`row\u0000${identity}`) < (rule?.accuracy ?? scorer.accuracy ?? 0.5);
    const explain = unitHash(`explain\u0000${identity}`) < (rule?.explanationRate ?? scorer.explanationRate ?? 1);
    const wrongDraw = Math.floor(unitHash(`wrong\u0000${identity}`) * 1e6);
    return scriptedAnswer(task, row, correct, wrongDraw, explain ? SCRIPTED_EXPLANATION : undefined, scorer.labelWords ?? {});
  };
}

/** The prompt values that identify a row of the task in a prompt. */
function rowFields(task: TaskDefinition): string[] {
  switch (task.kind) {
    case 'nli':
      return ['premise', 'hypothesis'];
    case 'multiple-choice':
      return ['question', 'choice_a', 'choice_b', 'choice_c', 'choice_d', 'choice_e'];
    case 'math':
      return ['question'];
    case 'generic':
      return ['input'];
  }
}

function scriptedAnswer(
  task: TaskDefinition,
  row: ExampleRow,
  correct: boolean,
  draw: number,
  explanation: string | undefined,
  words: Readonly<Record<string, string>>,
): string {
  const tail = explanation === undefined ? '' : ` ${explanation}`;
  switch (task.kind) {
    case 'multiple-choice': {
      const letters = ['a', 'b', 'c', 'd', 'e'];
      const choices = letters.map((letter) => row.promptValues[`choice_${letter}`]);
      const gold = Math.max(0, choices.indexOf(row.goldLabel));
      const chosen = correct ? gold : (gold + 1 + (draw % 4)) % 5;
      return `${letters[chosen]}) ${choices[chosen]}.${tail}`;
    }
    case 'nli': {
      const gold = Math.max(0, (NLI_LABELS as readonly string[]).indexOf(row.goldLabel));
      const label = NLI_LABELS[correct ? gold : (gold + 1 + (draw % 2)) % 3];
      return `${words[label] ?? label}.${tail}`;
    }
    case 'math': {
      const number = Number(row.goldLabel);
      const answer = correct ? row.goldLabel : Number.isFinite(number) ? String(number + 1) : `${row.goldLabel}1`;
      return `${explanation ?? ''} The answer is ${answer}.`.trim();
    }
    case 'generic': {
      const label = correct ? row.goldLabel : `not ${row.goldLabel}`;
      return `${words[label] ?? label}.${tail}`;
    }
  }
}

/** A made-up answer that depends only on the prompt: parseable as a choice, and saying what it is. */
export function echoAnswer(prompt: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < prompt.length; index++) hash = Math.imul(hash ^ prompt.charCodeAt(index), 0x01000193) >>> 0;
  const letter = 'abcde'[hash % 5];
  return `The answer is (${letter}). This is a made-up answer from the fake OpenAI server: nothing is recorded for this prompt (fnv1a ${hash.toString(16).padStart(8, '0')}).`;
}
