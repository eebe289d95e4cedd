import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';

/**
 * The tasks zsd knows. Four come from Distilling Step-by-Step (cqa, svamp, anli1, esnli); any other name is a
 * user task in the generic JSON Lines format `{input, label, rationale?}` found under `datasets/<name>/`.
 * A task decides how dataset rows become prompt values, how gold labels read, how a teacher's label is
 * normalised and how a prediction is judged correct.
 */

export type TaskKind = 'multiple-choice' | 'math' | 'nli' | 'generic';

export interface TaskDefinition {
  name: string;
  kind: TaskKind;
  /** Splits the task defines; files for some may be absent (anli1 and esnli train are not shipped). */
  splits: readonly string[];
  /** Placeholders a template of this task may use. */
  promptFields: readonly string[];
  /** One of the four tasks of the study (fixed file layout); false for a user's generic task. */
  builtIn: boolean;
}

export const NLI_LABELS = ['entailment', 'neutral', 'contradiction'] as const;

const BUILT_IN: Record<string, TaskDefinition> = {
  cqa: {
    name: 'cqa',
    kind: 'multiple-choice',
    splits: ['train', 'test'],
    promptFields: ['question', 'choice_a', 'choice_b', 'choice_c', 'choice_d', 'choice_e'],
    builtIn: true,
  },
  svamp: { name: 'svamp', kind: 'math', splits: ['train', 'test'], promptFields: ['question'], builtIn: true },
  anli1: { name: 'anli1', kind: 'nli', splits: ['train', 'valid', 'test'], promptFields: ['premise', 'hypothesis', 'label'], builtIn: true },
  esnli: { name: 'esnli', kind: 'nli', splits: ['train', 'valid', 'test'], promptFields: ['premise', 'hypothesis', 'label'], builtIn: true },
};

export const BUILT_IN_TASKS: readonly string[] = Object.keys(BUILT_IN);

const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * A built-in task, or a generic task whose dataset directory exists under one of `searchRoots`
 * (the data root's `datasets/` and the workspace's `datasets/`).
 */
export function getTask(name: string, searchRoots: readonly string[] = []): TaskDefinition {
  const builtIn = BUILT_IN[name];
  if (builtIn) return builtIn;
  if (TASK_NAME.test(name)) {
    const directory = searchRoots.map((root) => path.join(root, 'datasets', name)).find((candidate) => fs.existsSync(candidate));
    if (directory) {
      const splits = fs
        .readdirSync(directory)
        .map((file) => new RegExp(`^${escapeRegExp(name)}_(.+)\\.jsonl?$`).exec(file)?.[1])
        .filter((split): split is string => split !== undefined)
        .sort();
      return { name, kind: 'generic', splits, promptFields: ['input', 'label'], builtIn: false };
    }
  }
  throw new ZsdError(
    'not-found',
    `unknown task "${name}"; expected one of ${BUILT_IN_TASKS.join(', ')}, or a task of your own as datasets/${name}/${name}_<split>.jsonl ` +
      `(one {"input", "label", "rationale"?} object per line) under ${searchRoots.length > 0 ? searchRoots.join(' or ') : 'the data root or workspace'}`,
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
