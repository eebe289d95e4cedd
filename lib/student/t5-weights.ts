/**
 * T5 checkpoints on disk, as Hugging Face transformers reads and writes them: a directory with `config.json` and
 * `model.safetensors` (or shards with an index), tensors named as the PyTorch state dict.
 *
 * Loading is strict: every parameter the config calls for must be there with its exact shape, and nothing else
 * may be, so that a checkpoint of another architecture or size fails with the tensor named instead of silently
 * training from a half-random model. Two kinds of redundant tensors are tolerated because transformers itself
 * writes or accepts them: `encoder.embed_tokens.weight` / `decoder.embed_tokens.weight` (copies of
 * `shared.weight` in older checkpoints) and, for tied configs, an `lm_head.weight` equal to `shared.weight`.
 * They are accepted only when bitwise equal to `shared.weight`.
 *
 * Saving writes what `save_pretrained` writes: config.json (sorted keys, 2-space indent) and one F32
 * `model.safetensors` in name order, without a tied lm_head. Save then load is exact (bitwise).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { readCheckpointTensors, writeSafetensors, type HostTensor } from './safetensors';
import { readT5Config, t5ConfigToJson, type T5Config } from './t5-config';
import { describeParameterProblem, findParameterProblems, T5Model } from './t5-model';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** Tensors some checkpoints carry as copies of `shared.weight`; accepted only when equal to it. */
const SHARED_COPIES = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'];

export interface LoadedCheckpoint {
  model: T5Model;
  config: T5Config;
  /** the weight files read */
  files: string[];
}

/** Reads config.json and the weights of a checkpoint directory into a T5Model (throws ZsdError naming the tensor). */
export function loadT5Checkpoint(directory: string): LoadedCheckpoint {
  const config = readT5Config(path.join(directory, CONFIG_FILE));
  const { tensors, files } = readCheckpointTensors(directory);
  const location = files.length === 1 ? files[0] : directory;
  const parameters = checkpointParameters(config, tensors, location);
  return { model: T5Model.fromHostTensors(config, parameters), config, files };
}

/** Just the model; see loadT5Checkpoint. */
export function loadT5Model(directory: string): T5Model {
  return loadT5Checkpoint(directory).model;
}

/**
 * The tensors a T5Model needs, from a checkpoint's tensors: redundant copies of `shared.weight` dropped (after
 * checking they are copies), then every missing, mis-shaped or unexpected tensor reported by name.
 */
export function checkpointParameters(config: T5Config, tensors: ReadonlyMap<string, HostTensor>, file: string): Map<string, HostTensor> {
  const parameters = new Map(tensors);
  const shared = tensors.get('shared.weight');
  const redundant = config.tieWordEmbeddings ? [...SHARED_COPIES, 'lm_head.weight'] : SHARED_COPIES;
  for (const name of redundant) {
    const copy = tensors.get(name);
    if (copy === undefined || shared === undefined) continue;
    if (!bitwiseEqual(copy, shared)) {
      const why = name === 'lm_head.weight' ? 'the config ties lm_head to shared.weight' : `${name} must be a copy of shared.weight`;
      throw new ZsdError('invalid-file', `tensor ${name} differs from shared.weight (${why})`, { file, key: name });
    }
    parameters.delete(name);
  }
  const problems = findParameterProblems(config, parameters);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).map(describeParameterProblem);
    if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
    throw new ZsdError('invalid-file', `checkpoint does not match its T5 config: ${shown.join('; ')}`, { file, key: problems[0].name });
  }
  return parameters;
}

/** Writes config.json and model.safetensors (F32) so that transformers' from_pretrained loads the model. */
export function saveT5Model(model: T5Model, directory: string): void {
  fs.mkdirSync(directory, { recursive: true });
  const tensors = [...model.toHostTensors()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  writeSafetensors(path.join(directory, WEIGHTS_FILE), tensors, { metadata: { format: 'pt' } });
  const configJson = sortKeysDeep(t5ConfigToJson(model.config));
  fs.writeFileSync(path.join(directory, CONFIG_FILE), `${JSON.stringify(configJson, null, 2)}\n`);
}

function bitwiseEqual(a: HostTensor, b: HostTensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((size, axis) => size !== b.shape[axis])) return false;
  if (a.data.length !== b.data.length) return false;
  const left = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const right = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < left.length; i++) if (left[i] !== right[i]) return false;
  return true;
}

/** As Python's json.dumps(sort_keys=True), which transformers uses for config.json. */
function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeysDeep((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
