import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ZsdError } from '../core/errors';
import { initBackend, type BackendPreference } from '../student/backend';
import { checkModel, formatCheckModelSummary, REFERENCE_FILE } from '../student/check-model';
import { loadT5Checkpoint } from '../student/t5-weights';

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
  const resolved = path.resolve(directory);
  if (!fs.existsSync(resolved) || !fs.statSync(resolved).isDirectory()) throw new ZsdError('not-found', `${resolved} is not a directory`);
  if (!fs.existsSync(path.join(resolved, REFERENCE_FILE))) {
    const backend = await initBackend({ prefer: options.backend });
    const { model, config, files } = loadT5Checkpoint(resolved);
    const parameters = model.trainableVariables().reduce((sum, variable) => sum + variable.size, 0);
    model.dispose();
    const summary = { directory: resolved, backend, loaded: true, files, parameters, config: { dModel: config.dModel, layers: [config.numLayers, config.numDecoderLayers], feedForwardProj: config.feedForwardProj } };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (!options.json) process.stderr.write(`loaded ${parameters.toLocaleString('en-US')} parameters on ${backend.description}; no ${REFERENCE_FILE}, so nothing to compare\n`);
    return;
  }
  const summary = await checkModel(resolved, { prefer: options.backend });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (!options.json) process.stderr.write(`${formatCheckModelSummary(summary)}\n`);
  if (!summary.passed) process.exitCode = 1;
}
