import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { pythonLstrip, pythonRstrip, pythonStrip } from '../core/python';
import type { TaskDefinition } from '../data/tasks';

/**
 * The recorded few-shot PaLM teacher (540B) of Distilling Step-by-Step: `datasets/<task>/llm/<split>_CoT_<k>.json`,
 * JSON arrays of raw completions in split order, chunked by k. Completions are split into rationale and label
 * exactly as distilling-step-by-step's data loaders do, since the published PaLM accuracies come from them:
 * - cqa: text before the first "Q:", split at "So the answer is"; the label is the choice text after "(x)";
 * - svamp: text before the first "Q:", split at "The answer is"; the label is the parenthesised equation;
 * - anli1: text before the first "Premise:", split at "So the answer is"; the label is the word (last character dropped);
 * - esnli: the rationale is the text before "Answer:", the label what follows "Answer: " up to "Premise".
 * Everything after the first follow-on question is the model running on, and is ignored.
 */

export interface PalmCompletion {
  index: number;
  rationale: string;
  label: string;
}

export const PALM_TEACHER = 'palm';

export function palmFiles(dataRoot: string, task: string, split: string): string[] {
  const directory = path.join(dataRoot, 'datasets', task, 'llm');
  const files: string[] = [];
  for (let chunk = 0; fs.existsSync(path.join(directory, `${split}_CoT_${chunk}.json`)); chunk++) {
    files.push(path.join(directory, `${split}_CoT_${chunk}.json`));
  }
  return files;
}

export function readPalmCompletions(dataRoot: string, task: TaskDefinition, split: string): PalmCompletion[] {
  if (!task.builtIn) throw new ZsdError('not-found', `task "${task.name}" has no recorded PaLM rationales (only cqa, svamp, anli1 and esnli do)`);
  const files = palmFiles(dataRoot, task.name, split);
  if (files.length === 0) {
    throw new ZsdError(
      'not-found',
      `no PaLM rationales for ${task.name} ${split}: expected ${path.join(dataRoot, 'datasets', task.name, 'llm', `${split}_CoT_0.json`)}`,
    );
  }
  const completions: PalmCompletion[] = [];
  for (const file of files) {
    let outputs: unknown;
    try {
      outputs = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ZsdError('invalid-file', `not valid JSON: ${(error as Error).message}; expected an array of completion strings`, { file });
    }
    if (!Array.isArray(outputs)) throw new ZsdError('invalid-file', 'expected a JSON array of completion strings', { file });
    outputs.forEach((output, position) => {
      if (typeof output !== 'string') throw new ZsdError('invalid-file', `element ${position} is not a string`, { file, key: String(position) });
      completions.push({ index: completions.length, ...splitPalmCompletion(task.name, output) });
    });
  }
  return completions;
}

export function splitPalmCompletion(task: string, output: string): { rationale: string; label: string } {
  switch (task) {
    case 'cqa': {
      const parts = pythonRstrip(output.split('Q:')[0]).split('So the answer is');
      if (parts.length !== 2) return { rationale: pythonRstrip(parts[0]), label: '' };
      const afterChoice = parts[1].split(/\([^\n]\)/u);
      if (afterChoice.length < 2) return { rationale: pythonRstrip(parts[0]), label: '' };
      const label = pythonStrip(afterChoice[1]);
      return { rationale: pythonRstrip(parts[0]), label: label.endsWith('.') ? label.slice(0, -1) : label };
    }
    case 'svamp': {
      const parts = pythonRstrip(output.split('Q:')[0]).split('The answer is');
      if (parts.length !== 2) return { rationale: '', label: '' };
      const equation = /\([^\n]*\)/u.exec(parts[1]);
      return { rationale: pythonRstrip(parts[0]), label: equation ? equation[0] : '' };
    }
    case 'anli1': {
      const parts = pythonRstrip(output.split('Premise:')[0]).split('So the answer is');
      if (parts.length !== 2) return { rationale: '', label: '' };
      return { rationale: pythonRstrip(parts[0]), label: [...pythonLstrip(parts[1])].slice(0, -1).join('') };
    }
    case 'esnli': {
      const rationale = pythonRstrip(output.split('Answer:')[0]);
      const afterAnswer = output.split('Answer: ');
      return { rationale, label: afterAnswer.length > 1 ? pythonRstrip(afterAnswer[1].split('Premise')[0]) : '' };
    }
    default:
      throw new ZsdError('not-found', `no PaLM completion format for task "${task}"`);
  }
}
