import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { ZsdError } from '../core/errors';
import { resolveDataRoot, writeFileAtomic } from '../core/paths';
import { initBackend, type BackendPreference } from '../student/backend';
import { mapNumbers, numberMappingOf, unmapNumbers } from '../student/number-mapping';
import { generate } from '../student/t5-generate';
import { readCheckpointPreprocessing } from '../student/trainer';
import { loadT5Model } from '../student/t5-weights';
import { loadT5Tokenizer, t5TokenizerFile } from '../student/tokenizer';
import { backendOption } from './check-model';
import { formatDuration } from './progress';
import { numberFlag } from './teacher-run';

interface PredictOptions {
  model: string;
  input: string;
  output?: string;
  prefix?: string;
  numberMapping?: boolean;
  tokenizer?: string;
  data?: string;
  batchSize: number;
  maxInputLength: number;
  maxNewTokens: number;
  numBeams: number;
  backend: BackendPreference;
}

/**
 * Batch inference with a T5 checkpoint: each input line (a JSON object with "input", or plain text) gets the task
 * prefix, is tokenized with the T5 vocabulary, and is answered by greedy or beam search. Writes one
 * {"input", "prediction"} JSON line per input. A checkpoint that zsd trained carries its preprocessing.json (task prefix,
 * number mapping), which is applied unless a flag says otherwise; with number mapping the line also has "model_output",
 * what the model wrote before the problem's numbers were put back.
 */
export function predictCommand(): Command {
  const command = new Command('predict')
    .description('Run a T5 checkpoint on inputs: one JSON object with "input" (or one plain text) per line; writes {"input", "prediction"} JSON lines')
    .requiredOption('--model <dir>', 'checkpoint directory (config.json + model.safetensors)')
    .requiredOption('--input <file>', 'input file, or - for stdin')
    .option('--output <file>', 'write predictions here (default: stdout)')
    .option('--prefix <text>', 'task prefix put before every input (distilling step-by-step: "predict: " for labels, "explain: " for rationales; default: the checkpoint\'s preprocessing.json, else "predict: ")')
    .option('--number-mapping', 'write the problem\'s numbers as n0, n1, ... and put them back into the answer (default: as the checkpoint was trained)')
    .option('--no-number-mapping', 'no number mapping, whatever the checkpoint was trained with')
    .option('--tokenizer <file>', 'tokenizer.json (default: the model directory\'s, else <data>/tokenizers/t5/tokenizer.json)')
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--batch-size <n>', 'inputs per forward pass', numberFlag('--batch-size', { min: 1, max: 4096, integer: true }), 16)
    .option('--max-input-length <n>', 'truncate inputs to this many tokens', numberFlag('--max-input-length', { min: 2, integer: true }), 512)
    .option('--max-new-tokens <n>', 'tokens to generate at most', numberFlag('--max-new-tokens', { min: 1, integer: true }), 64)
    .option('--num-beams <n>', 'beam search width (1: greedy)', numberFlag('--num-beams', { min: 1, max: 64, integer: true }), 1)
    .addOption(backendOption());
  return command.action((options: PredictOptions) => runPredict(options));
}

export async function runPredict(options: PredictOptions): Promise<void> {
  const inputs = readInputs(options.input);
  const tokenizerFile = options.tokenizer ?? (fs.existsSync(path.join(options.model, 'tokenizer.json')) ? path.join(options.model, 'tokenizer.json') : t5TokenizerFile(resolveDataRoot(options.data)));
  const tokenizer = loadT5Tokenizer(tokenizerFile);
  const backend = await initBackend({ prefer: options.backend });
  process.stderr.write(`backend: ${backend.description}\n`);
  const model = loadT5Model(options.model);
  const preprocessing = readCheckpointPreprocessing(options.model);
  const prefix = options.prefix ?? preprocessing?.inputPrefix ?? 'predict: ';
  const numberMapping = options.numberMapping ?? preprocessing?.numberMapping ?? false;
  if (numberMapping) process.stderr.write('number mapping: on (the problem\'s numbers are n0, n1, ... for the model)\n');
  const started = Date.now();
  const lines: string[] = [];
  try {
    for (let start = 0; start < inputs.length; start += options.batchSize) {
      const batch = inputs.slice(start, start + options.batchSize);
      const mappings = batch.map((input) => (numberMapping ? numberMappingOf(input) : null));
      const modelInputs = batch.map((input, index) => (mappings[index] === null ? input : mapNumbers(input, mappings[index]!)));
      const encoded = tokenizer.encodeBatch(modelInputs.map((input) => `${prefix}${input}`), { maxLength: options.maxInputLength, truncation: true, padding: 'longest' });
      const sequences = generate(model, { inputIds: encoded.inputIds, attentionMask: encoded.attentionMask }, { maxNewTokens: options.maxNewTokens, numBeams: options.numBeams });
      sequences.forEach((sequence, index) => {
        const output = tokenizer.decode(sequence, { skipSpecialTokens: true, cleanUpTokenizationSpaces: true });
        const mapping = mappings[index];
        lines.push(JSON.stringify(mapping === null ? { input: batch[index], prediction: output } : { input: batch[index], prediction: unmapNumbers(output, mapping), model_output: output }));
      });
      const done = Math.min(start + options.batchSize, inputs.length);
      const elapsed = (Date.now() - started) / 1000;
      process.stderr.write(`predicted ${done}/${inputs.length} · ${(done / elapsed).toFixed(1)} inputs/s · ETA ${formatDuration(((inputs.length - done) * elapsed) / done)}\n`);
    }
  } finally {
    model.dispose();
  }
  const text = lines.map((line) => `${line}\n`).join('');
  if (options.output) writeFileAtomic(path.resolve(options.output), text);
  else process.stdout.write(text);
}

function readInputs(source: string): string[] {
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
      if (typeof input !== 'string') throw new ZsdError('invalid-file', 'expected a JSON object with a string "input"', { file: source, line: index + 1, key: 'input' });
      inputs.push(input);
    });
  if (inputs.length === 0) throw new ZsdError('invalid-file', 'no inputs (expected one JSON object with "input", or one text, per line)', { file: source });
  return inputs;
}
