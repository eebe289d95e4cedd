/**
 * Checkpoints of a training run: written only between updates, under a temporary name and then renamed; an index
 * (checkpoints.json) names the latest and the best, other checkpoint directories are removed. Each holds the model,
 * the optimizer state, the trainer's position (trainer-state.json), the vocabulary of a task-vocabulary student and
 * how inputs are prepared (preprocessing.json).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { saveOptimizerState, type Optimizer } from './optimizers';
import { readCheckpointTensors, type HostTensor } from './safetensors';
import { t5ConfigToJson, readT5Config } from './t5-config';
import type { T5Model } from './t5-model';
import { checkpointParameters, CONFIG_FILE, saveT5Model } from './t5-weights';
import type { TrainerConfig } from './trainer-config';

export type StopReason = 'completed' | 'early-stopping' | 'interrupted';
import { defaultTaskPrefixes } from './batches';

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

export const CHECKPOINTS_INDEX_FILE = 'checkpoints.json';
export const TRAINER_STATE_FILE = 'trainer-state.json';
/** A checkpoint's own vocabulary, where the student has one (`zsd predict` reads it from the checkpoint). */
export const TOKENIZER_FILE = 'tokenizer.json';

/**
 * How a checkpoint's inputs are prepared, so that `zsd predict` on the checkpoint does what evaluation did:
 * the task prefix and number mapping.
 */
export const PREPROCESSING_FILE = 'preprocessing.json';

export interface CheckpointPreprocessing {
  formatVersion: 1;
  task: string;
  inputPrefix: string;
  numberMapping: boolean;
}

export function checkpointPreprocessing(config: TrainerConfig): CheckpointPreprocessing {
  return {
    formatVersion: 1,
    task: config.task,
    inputPrefix: config.mode === 'standard' ? '' : defaultTaskPrefixes([]).predict,
    numberMapping: config.numberMapping,
  };
}

/** A checkpoint's preprocessing.json, or null where it has none (a Hugging Face checkpoint, an older zsd one). */
export function readCheckpointPreprocessing(checkpoint: string): CheckpointPreprocessing | null {
  const file = path.join(checkpoint, PREPROCESSING_FILE);
  if (!fs.existsSync(file)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `not JSON: ${error instanceof Error ? error.message : String(error)}`, { file });
  }
  const value = parsed as Partial<CheckpointPreprocessing>;
  if (value.formatVersion !== 1 || typeof value.inputPrefix !== 'string' || typeof value.numberMapping !== 'boolean') {
    throw new ZsdError('invalid-file', 'expected {"formatVersion": 1, "task", "inputPrefix": string, "numberMapping": boolean}', { file });
  }
  return value as CheckpointPreprocessing;
}

/** What, besides model and optimizer, a checkpoint holds to continue exactly. */
export interface TrainerProgressState {
  /** updates done */
  step: number;
  /** the epoch the next micro-step belongs to, and how many of its micro-steps are done */
  epoch: number;
  microStepInEpoch: number;
  /** micro-steps done in the whole run (dropout seeds) */
  microStep: number;
  best: { step: number; accuracy: number } | null;
  evaluationsWithoutImprovement: number;
  lastEvaluatedStep: number | null;
  stopReason: StopReason | null;
  elapsedSeconds: number;
  /** the updates since the last train.json entry */
  logWindow: LogWindow;
}

export interface LogWindow {
  updates: number;
  loss: number;
  labelLoss: number;
  rationaleLoss: number;
  hasRationale: boolean;
  gradientNorm: number;
  tokens: number;
  seconds: number;
}

export interface TrainerStateFile {
  formatVersion: 1;
  config: TrainerConfig;
  progress: TrainerProgressState;
}

export interface CheckpointIndex {
  formatVersion: 1;
  latest: string;
  best: string | null;
}

function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

export function readCheckpointIndex(directory: string): CheckpointIndex | null {
  const file = path.join(directory, CHECKPOINTS_INDEX_FILE);
  if (!fs.existsSync(file)) return null;
  let index: Partial<CheckpointIndex>;
  try {
    index = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read the checkpoint index: ${(error as Error).message}`, { file });
  }
  if (index.formatVersion !== 1 || typeof index.latest !== 'string' || !(index.best === null || typeof index.best === 'string')) {
    throw new ZsdError('invalid-file', 'expected {"formatVersion": 1, "latest": "<dir>", "best": "<dir>" | null}', { file });
  }
  return index as CheckpointIndex;
}

/**
 * Writes model, optimizer and trainer state as `<directory>/step-NNNNNN/` (temporary name, then rename), points
 * checkpoints.json at it (and at the best one), then removes checkpoint directories nothing points at.
 */
export function writeCheckpoint(
  directory: string,
  model: T5Model,
  optimizer: Optimizer,
  state: TrainerStateFile,
  bestStep: number | null,
  tokenizerJson?: string,
): void {
  fs.mkdirSync(directory, { recursive: true });
  const name = checkpointName(state.progress.step);
  const final = path.join(directory, name);
  const previous = readCheckpointIndex(directory);
  const temporary = path.join(directory, `${name}.tmp-${process.pid}`);
  fs.rmSync(temporary, { recursive: true, force: true });
  saveT5Model(model, temporary);
  saveOptimizerState(temporary, optimizer.state());
  writeFileAtomic(path.join(temporary, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  if (tokenizerJson !== undefined) writeFileAtomic(path.join(temporary, TOKENIZER_FILE), tokenizerJson);
  writeFileAtomic(path.join(temporary, PREPROCESSING_FILE), `${JSON.stringify(checkpointPreprocessing(state.config), null, 2)}\n`);
  if (fs.existsSync(final)) {
    if (previous?.latest === name || previous?.best === name) {
      // the same step again (a resumed run that checkpoints where it resumed): the content is the same; keep it
      fs.rmSync(temporary, { recursive: true, force: true });
    } else {
      fs.rmSync(final, { recursive: true, force: true });
      fs.renameSync(temporary, final);
    }
  } else {
    fs.renameSync(temporary, final);
  }
  const index: CheckpointIndex = { formatVersion: 1, latest: name, best: bestStep === null ? null : checkpointName(bestStep) };
  writeFileAtomic(path.join(directory, CHECKPOINTS_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('step-')) continue;
    if (entry.name !== index.latest && entry.name !== index.best) fs.rmSync(path.join(directory, entry.name), { recursive: true, force: true });
  }
}

/** Copies a checkpoint's weights into the model's variables (the config must be the model's). */
export function loadWeightsInto(model: T5Model, checkpoint: string): void {
  const configFile = path.join(checkpoint, CONFIG_FILE);
  const saved = JSON.stringify(t5ConfigToJson(readT5Config(configFile)));
  if (saved !== JSON.stringify(t5ConfigToJson(model.config))) {
    throw new ZsdError('invalid-file', "the checkpoint's model config differs from the model being trained", { file: configFile });
  }
  const { tensors, files } = readCheckpointTensors(checkpoint);
  assignWeights(model, checkpointParameters(model.config, tensors, files[0] ?? checkpoint));
}

export function assignWeights(model: T5Model, tensors: ReadonlyMap<string, HostTensor>): void {
  for (const [name, variable] of model.parameters) {
    const host = tensors.get(name);
    if (host === undefined) throw new ZsdError('internal', `no saved value for ${name}`);
    const value = tf.tensor(host.data, host.shape, 'float32');
    variable.assign(value);
    value.dispose();
  }
}

export function readTrainerState(checkpoint: string): TrainerStateFile {
  const file = path.join(checkpoint, TRAINER_STATE_FILE);
  let state: Partial<TrainerStateFile>;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read the trainer state: ${(error as Error).message}`, { file });
  }
  if (state.formatVersion !== 1 || typeof state.config !== 'object' || typeof state.progress !== 'object') {
    throw new ZsdError('invalid-file', 'expected {"formatVersion": 1, "config": {...}, "progress": {...}}', { file });
  }
  return state as TrainerStateFile;
}

/** The checkpoint directory holding the best weights (else the latest) of a checkpoints directory, or null. */
export function selectedCheckpoint(directory: string): string | null {
  const index = readCheckpointIndex(directory);
  if (index === null) return null;
  return path.join(directory, index.best ?? index.latest);
}
