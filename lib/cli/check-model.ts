import { Command, Option } from 'commander';
import { checkStudentModel } from '../pipeline/check-student-model';
import type { BackendPreference } from '../student/backend';
import { formatCheckModelSummary, REFERENCE_FILE } from '../student/check-model';

interface CheckModelOptions {
  backend: BackendPreference;
  json?: boolean;
}

export const BACKEND_CHOICES: readonly BackendPreference[] = ['auto', 'wasm', 'node', 'node-gpu'];

export function backendOption(): Option {
  return new Option('--backend <name>', 'TensorFlow.js backend: tfjs-node-gpu or tfjs-node when installed, else wasm').choices(BACKEND_CHOICES).default('auto');
}

/**
 * Loads a Hugging Face T5 checkpoint (config.json + model.safetensors or shards) and, when the directory has a
 * reference.json of PyTorch outputs, checks zsd's numerics against them: loss, logits, encoder states, greedy
 * generation, per-parameter gradient norms. Prints a JSON summary; exits 1 when a check is out of tolerance.
 */
export function checkModelCommand(): Command {
  const command = new Command('check-model')
    .description(
      `Load a T5 checkpoint directory and, if it holds a ${REFERENCE_FILE} (outputs computed by transformers), compare loss, logits, encoder states, ` +
        'greedy generation and gradient norms; exit 1 when outside tolerance',
    )
    .argument('<dir>', 'checkpoint directory: config.json and model.safetensors (or model.safetensors.index.json and shards)')
    .addOption(backendOption())
    .option('--json', 'print only the JSON summary');
  return command.action((directory: string, options: CheckModelOptions) => runCheckModel(directory, options));
}

export async function runCheckModel(directory: string, options: CheckModelOptions): Promise<void> {
  const result = await checkStudentModel(directory, { backend: options.backend });
  process.stdout.write(`${JSON.stringify(result.summary, null, 2)}\n`);
  if (result.kind === 'loaded') {
    const { parameters, backend } = result.summary;
    if (!options.json)
      process.stderr.write(`loaded ${parameters.toLocaleString('en-US')} parameters on ${backend.description}; no ${REFERENCE_FILE}, so nothing to compare\n`);
    return;
  }
  if (!options.json) process.stderr.write(`${formatCheckModelSummary(result.summary)}\n`);
  if (!result.summary.passed) process.exitCode = 1;
}
