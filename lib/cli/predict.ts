import * as path from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../core/paths';
import { predictStudent, PREDICT_STUDENT_DEFAULTS as D, readPredictInputs } from '../pipeline/predict-student';
import type { BackendPreference } from '../student/backend';
import { backendOption } from './check-model';
import { studentEventPrinter } from './student-progress';
import { numberFlag } from './options';

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
 * `zsd predict` (lib/pipeline/predict-student.ts): one {"input", "prediction"} JSON line per input line; with number
 * mapping the line also has "model_output", what the model wrote before the problem's numbers were put back.
 */
export function predictCommand(): Command {
  const command = new Command('predict')
    .description('Run a T5 checkpoint on inputs: one JSON object with "input" (or one plain text) per line; writes {"input", "prediction"} JSON lines')
    .requiredOption('--model <dir>', 'checkpoint directory (config.json + model.safetensors)')
    .requiredOption('--input <file>', 'input file, or - for stdin')
    .option('--output <file>', 'write predictions here (default: stdout)')
    .option(
      '--prefix <text>',
      'task prefix put before every input (distilling step-by-step: "predict: " for labels, "explain: " for rationales; default: the checkpoint\'s preprocessing.json, else "predict: ")',
    )
    .option('--number-mapping', "write the problem's numbers as n0, n1, ... and put them back into the answer (default: as the checkpoint was trained)")
    .option('--no-number-mapping', 'no number mapping, whatever the checkpoint was trained with')
    .option('--tokenizer <file>', "tokenizer.json (default: the model directory's, else <data>/tokenizers/t5/tokenizer.json)")
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--batch-size <n>', 'inputs per forward pass', numberFlag('--batch-size', { min: 1, max: 4096, integer: true }), D.batchSize)
    .option('--max-input-length <n>', 'truncate inputs to this many tokens', numberFlag('--max-input-length', { min: 2, integer: true }), D.maxInputLength)
    .option('--max-new-tokens <n>', 'tokens to generate at most', numberFlag('--max-new-tokens', { min: 1, integer: true }), D.maxNewTokens)
    .option('--num-beams <n>', 'beam search width (1: greedy)', numberFlag('--num-beams', { min: 1, max: 64, integer: true }), D.numBeams)
    .addOption(backendOption());
  return command.action((options: PredictOptions) => runPredict(options));
}

export async function runPredict(options: PredictOptions): Promise<void> {
  const { predictions } = await predictStudent({ ...options, inputs: readPredictInputs(options.input), onEvent: studentEventPrinter() });
  const text = predictions
    .map(
      ({ input, prediction, modelOutput }) =>
        `${JSON.stringify(modelOutput === undefined ? { input, prediction } : { input, prediction, model_output: modelOutput })}\n`,
    )
    .join('');
  if (options.output) writeFileAtomic(path.resolve(options.output), text);
  else process.stdout.write(text);
}
