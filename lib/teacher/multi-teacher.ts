import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { pythonRstrip, pythonStrip } from '../core/python';
import { multiTeacherDirectory } from '../data/multi-teacher';

/**
 * The recorded teachers of TinyLLM's multi-teacher tasks: `<dataRoot>/multi-teacher/<task>/llm/<split>_CoT_<k>.json`,
 * JSON arrays of outputs in split order, chunked by k, each holding a FLAN-T5 and a LLaMA-2 rationale (written
 * given the gold answer, so no teacher label). Outputs are split as TinyLLM's data_utils.py does: the FLAN-T5
 * rationale is the text before the first "Q:", cut at "Thus, the answer is"; the LLaMA-2 rationale is everything
 * after "llama rationale: ", stripped.
 */

export type MultiTeacher = 'flan' | 'llama';
export const MULTI_TEACHERS: readonly MultiTeacher[] = ['flan', 'llama'];

export function readMultiTeacherOutputs(dataRoot: string, task: string, split: string): { files: string[]; outputs: string[] } {
  const directory = path.join(multiTeacherDirectory(dataRoot, task), 'llm');
  const files: string[] = [];
  for (let chunk = 0; fs.existsSync(path.join(directory, `${split}_CoT_${chunk}.json`)); chunk++)
    files.push(path.join(directory, `${split}_CoT_${chunk}.json`));
  if (files.length === 0)
    throw new ZsdError('not-found', `no multi-teacher rationales for ${task} ${split}`, { file: path.join(directory, `${split}_CoT_0.json`) });
  const outputs: string[] = [];
  for (const file of files) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ZsdError('invalid-file', `not valid JSON: ${(error as Error).message}; expected an array of strings`, { file });
    }
    if (!Array.isArray(parsed)) throw new ZsdError('invalid-file', 'expected a JSON array of strings', { file });
    parsed.forEach((output, position) => {
      if (typeof output !== 'string') throw new ZsdError('invalid-file', `element ${position} is not a string`, { file, key: String(position) });
      outputs.push(output);
    });
  }
  return { files, outputs };
}

const MULTI_TEACHER_ANSWER = 'Thus, the answer is';
const LLAMA_MARKER = 'llama rationale: ';

/**
 * TinyLLM's split of one output: FLAN-T5 = `output.split('Q:')[0].rstrip().split('Thus, the answer is')[0].rstrip()`,
 * LLaMA-2 = `output[output.find('llama rationale: ') + 17:].strip()` ('' when absent). TinyLLM raises where the
 * answer phrase is not there exactly once; here that rationale is missing. Blank rationales are missing.
 */
export function splitMultiTeacherOutput(output: string): Record<MultiTeacher, string | null> {
  const parts = pythonRstrip(output.split('Q:')[0]).split(MULTI_TEACHER_ANSWER);
  const flan = parts.length === 2 ? pythonRstrip(parts[0]) : '';
  const start = output.indexOf(LLAMA_MARKER);
  const llama = start === -1 ? '' : pythonStrip(output.slice(start + LLAMA_MARKER.length));
  return { flan: blankToNull(flan), llama: blankToNull(llama) };
}

function blankToNull(text: string): string | null {
  return pythonStrip(text) === '' ? null : text;
}
