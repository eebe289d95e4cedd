import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { resolveDataRoot } from '../core/paths';
import { initBackend, type BackendPreference } from '../student/backend';
import { mapNumbers, numberMappingOf, unmapNumbers } from '../student/number-mapping';
import { generate } from '../student/t5-generate';
import { loadT5Model } from '../student/t5-weights';
import { loadT5Tokenizer, t5TokenizerFile } from '../student/tokenizer';
import { readCheckpointPreprocessing } from '../student/trainer';
import { ignoreEvents, type OnPipelineEvent } from './events';

/**
 * Batch inference with a T5 checkpoint (`zsd predict`): each input gets the task prefix, is tokenized, and is
 * answered by greedy or beam search. A checkpoint that zsd trained carries its preprocessing.json (task prefix,
 * number mapping), which is applied unless an option says otherwise.
 */

export interface PredictStudentOptions {
  /** checkpoint directory (config.json + model.safetensors) */
  model: string;
  inputs: readonly string[];
  /** put before every input (default: the checkpoint's preprocessing.json, else "predict: ") */
  prefix?: string;
  /** default: as the checkpoint was trained */
  numberMapping?: boolean;
  /** tokenizer.json (default: the model directory's, else <data>/tokenizers/t5/tokenizer.json) */
  tokenizer?: string;
  /** data root, for the default tokenizer */
  data?: string;
  batchSize?: number;
  maxInputLength?: number;
  maxNewTokens?: number;
  numBeams?: number;
  backend?: BackendPreference;
  onEvent?: OnPipelineEvent;
}

export interface StudentPrediction {
  input: string;
  prediction: string;
  /** with number mapping: what the model wrote before the problem's numbers were put back */
  modelOutput?: string;
}

export interface PredictStudentResult {
  predictions: StudentPrediction[];
  prefix: string;
  numberMapping: boolean;
  backend: string;
  seconds: number;
}

export const PREDICT_STUDENT_DEFAULTS = { batchSize: 16, maxInputLength: 512, maxNewTokens: 64, numBeams: 1, backend: 'auto' } as const;

export async function predictStudent(options: PredictStudentOptions): Promise<PredictStudentResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const batchSize = options.batchSize ?? PREDICT_STUDENT_DEFAULTS.batchSize;
  const { inputs } = options;
  const tokenizerFile =
    options.tokenizer ??
    (fs.existsSync(path.join(options.model, 'tokenizer.json')) ? path.join(options.model, 'tokenizer.json') : t5TokenizerFile(resolveDataRoot(options.data)));
  const tokenizer = loadT5Tokenizer(tokenizerFile);
  const backend = await initBackend({ prefer: options.backend ?? PREDICT_STUDENT_DEFAULTS.backend });
  onEvent({ kind: 'info', message: `backend: ${backend.description}` });
  const model = loadT5Model(options.model);
  const preprocessing = readCheckpointPreprocessing(options.model);
  const prefix = options.prefix ?? preprocessing?.inputPrefix ?? 'predict: ';
  const numberMapping = options.numberMapping ?? preprocessing?.numberMapping ?? false;
  if (numberMapping) onEvent({ kind: 'info', message: "number mapping: on (the problem's numbers are n0, n1, ... for the model)" });
  const started = Date.now();
  const predictions: StudentPrediction[] = [];
  try {
    for (let start = 0; start < inputs.length; start += batchSize) {
      const batch = inputs.slice(start, start + batchSize);
      const mappings = batch.map((input) => (numberMapping ? numberMappingOf(input) : null));
      const modelInputs = batch.map((input, index) => (mappings[index] === null ? input : mapNumbers(input, mappings[index]!)));
      const encoded = tokenizer.encodeBatch(
        modelInputs.map((input) => `${prefix}${input}`),
        { maxLength: options.maxInputLength ?? PREDICT_STUDENT_DEFAULTS.maxInputLength, truncation: true, padding: 'longest' },
      );
      const sequences = generate(
        model,
        { inputIds: encoded.inputIds, attentionMask: encoded.attentionMask },
        { maxNewTokens: options.maxNewTokens ?? PREDICT_STUDENT_DEFAULTS.maxNewTokens, numBeams: options.numBeams ?? PREDICT_STUDENT_DEFAULTS.numBeams },
      );
      sequences.forEach((sequence, index) => {
        const output = tokenizer.decode(sequence, { skipSpecialTokens: true, cleanUpTokenizationSpaces: true });
        const mapping = mappings[index];
        predictions.push(
          mapping === null
            ? { input: batch[index], prediction: output }
            : { input: batch[index], prediction: unmapNumbers(output, mapping), modelOutput: output },
        );
      });
      const done = Math.min(start + batchSize, inputs.length);
      const elapsed = (Date.now() - started) / 1000;
      onEvent({ kind: 'predict-progress', done, total: inputs.length, inputsPerSecond: done / elapsed, etaSeconds: ((inputs.length - done) * elapsed) / done });
    }
  } finally {
    model.dispose();
  }
  return { predictions, prefix, numberMapping, backend: backend.description, seconds: (Date.now() - started) / 1000 };
}

/**
 * The inputs of a file (or `-`, stdin): one JSON object with a string "input", or one plain text, per line; blank
 * lines skipped. A bad line is an error naming the file and line.
 */
export function readPredictInputs(source: string): string[] {
  const file = source === '-' ? '/dev/stdin' : path.resolve(source);
  if (source !== '-' && !fs.existsSync(file)) throw new ZsdError('not-found', `no input file ${file}`);
  const inputs: string[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, index) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '') return;
      if (!line.trimStart().startsWith('{')) {
        inputs.push(line);
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new ZsdError('invalid-file', `a line starting with "{" must be a JSON object: ${(error as Error).message}`, { file: source, line: index + 1 });
      }
      const input = (value as { input?: unknown } | null)?.input;
      if (typeof input !== 'string')
        throw new ZsdError('invalid-file', 'expected a JSON object with a string "input"', { file: source, line: index + 1, key: 'input' });
      inputs.push(input);
    });
  if (inputs.length === 0) throw new ZsdError('invalid-file', 'no inputs (expected one JSON object with "input", or one text, per line)', { file: source });
  return inputs;
}
