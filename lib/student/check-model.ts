/**
 * `checkModel(directory)`: proves that this T5 implementation computes what Hugging Face transformers (PyTorch)
 * computes for a checkpoint, by comparing against `directory/reference.json`, which PyTorch wrote for the same
 * weights and inputs (format: ../shared/data/t5-reference/<variant>/reference.json).
 *
 * Checks (eval mode, no dropout), with the tolerances float32 rounding leaves room for:
 * - loss (mean cross-entropy over labels != -100): relative difference <= 1e-5
 * - logits (the first 16 vocabulary entries per position): absolute difference <= 1e-4
 * - logits argmax (over the whole vocabulary): identical
 * - encoder last hidden state: absolute difference <= 1e-4
 * - greedy generation of 8 new tokens (with the decoder cache): identical
 * - L2 norm of d loss / d parameter for every parameter: relative difference <= 1e-3, and the same parameter names
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { initBackend, type BackendInfo, type BackendPreference } from './backend';
import { greedyGenerate } from './t5-generate';
import type { T5Batch, T5Model } from './t5-model';
import { loadT5Checkpoint } from './t5-weights';

export const REFERENCE_FILE = 'reference.json';

const numberGrid = z.array(z.array(z.number()));
const referenceSchema = z.object({
  variant: z.string().optional(),
  input_ids: z.array(z.array(z.number().int())),
  attention_mask: z.array(z.array(z.number().int())),
  labels: z.array(z.array(z.number().int())),
  loss: z.number(),
  logits_shape: z.array(z.number().int()).length(3),
  logits: z.array(numberGrid),
  logits_argmax: z.array(z.array(z.number().int())),
  encoder_last_hidden_state: z.array(numberGrid),
  greedy_generate_8: z.array(z.array(z.number().int())),
  grad_l2_norms: z.record(z.string(), z.number()),
});
export type ModelReference = z.infer<typeof referenceSchema>;

export const CHECK_TOLERANCES = {
  loss: 1e-5, // relative
  logits: 1e-4, // absolute
  encoderHiddenState: 1e-4, // absolute
  gradientNorms: 1e-3, // relative
} as const;

export type CheckName = 'loss' | 'logits' | 'logits-argmax' | 'encoder-hidden-state' | 'greedy-generate' | 'gradient-norms';

export interface CheckResult {
  check: CheckName;
  passed: boolean;
  /** absolute or relative (see `measure`); for exact checks, the number of differing entries */
  maxDifference: number;
  measure: 'absolute' | 'relative' | 'mismatches';
  tolerance: number;
  detail: string;
}

export interface WorstParameter {
  name: string;
  expected: number;
  actual: number;
  relativeDifference: number;
}

export interface CheckModelSummary {
  directory: string;
  backend: BackendInfo;
  variant?: string;
  parameters: number;
  checks: CheckResult[];
  /** the parameter whose gradient norm differs most (relatively) from PyTorch's */
  worstParameter?: WorstParameter;
  passed: boolean;
  seconds: number;
}

export function readModelReference(file: string): ModelReference {
  if (!fs.existsSync(file)) throw new ZsdError('not-found', `no ${REFERENCE_FILE} to check against`, { file });
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `not JSON: ${(error as Error).message}`, { file });
  }
  const parsed = referenceSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZsdError('invalid-file', `reference: ${issue.message}`, { file, key: issue.path.join('.') });
  }
  return parsed.data;
}

/** Loads the checkpoint in `directory`, runs every check against its reference.json, frees what it allocated. */
export async function checkModel(directory: string, options: { prefer?: BackendPreference } = {}): Promise<CheckModelSummary> {
  const started = process.hrtime.bigint();
  const backend = await initBackend({ prefer: options.prefer });
  const reference = readModelReference(path.join(directory, REFERENCE_FILE));
  const { model } = loadT5Checkpoint(directory);
  try {
    const checks: CheckResult[] = [];
    const batch = tf.tidy(() => ({
      inputIds: tf.tensor2d(reference.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(reference.attention_mask, undefined, 'int32'),
      labels: tf.tensor2d(reference.labels, undefined, 'int32'),
    }));
    try {
      checks.push(...compareForward(model, batch, reference));
      const gradients = compareGradientNorms(model, batch, reference);
      checks.push(gradients.check);
      checks.push(compareGreedy(model, reference));
      const parameters = [...model.parameters.values()].reduce((sum, variable) => sum + variable.size, 0);
      return {
        directory,
        backend,
        variant: reference.variant,
        parameters,
        checks,
        worstParameter: gradients.worst,
        passed: checks.every((check) => check.passed),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      };
    } finally {
      tf.dispose(batch);
    }
  } finally {
    model.dispose();
  }
}

function compareForward(model: T5Model, batch: Required<Pick<T5Batch, 'inputIds' | 'attentionMask' | 'labels'>>, reference: ModelReference): CheckResult[] {
  const output = model.forward(batch);
  try {
    const [batchSize, length, vocab] = output.logits.shape;
    const expectedShape = reference.logits_shape;
    if (batchSize !== expectedShape[0] || length !== expectedShape[1] || vocab !== expectedShape[2]) {
      throw new ZsdError('invalid-file', `reference logits_shape [${expectedShape}] but the model gives [${output.logits.shape}]`, {
        key: 'logits_shape',
      });
    }
    const logits = output.logits.dataSync();
    const loss = output.loss!.dataSync()[0];
    const lossDifference = Math.abs(loss - reference.loss) / Math.abs(reference.loss);

    let logitsDifference = 0;
    let argmaxMismatches = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let t = 0; t < length; t++) {
        const offset = (b * length + t) * vocab;
        reference.logits[b][t].forEach((expected, v) => {
          logitsDifference = Math.max(logitsDifference, Math.abs(logits[offset + v] - expected));
        });
        let best = 0;
        for (let v = 1; v < vocab; v++) if (logits[offset + v] > logits[offset + best]) best = v;
        if (best !== reference.logits_argmax[b][t]) argmaxMismatches++;
      }
    }
    const hidden = output.encoderHiddenState.arraySync();
    const hiddenDifference = maxAbsoluteDifference(hidden.flat(2), reference.encoder_last_hidden_state.flat(2));
    const positions = batchSize * length;
    return [
      {
        check: 'loss',
        passed: lossDifference <= CHECK_TOLERANCES.loss,
        maxDifference: lossDifference,
        measure: 'relative',
        tolerance: CHECK_TOLERANCES.loss,
        detail: `${loss} vs ${reference.loss}`,
      },
      {
        check: 'logits',
        passed: logitsDifference <= CHECK_TOLERANCES.logits,
        maxDifference: logitsDifference,
        measure: 'absolute',
        tolerance: CHECK_TOLERANCES.logits,
        detail: `first ${reference.logits[0][0].length} vocabulary entries at ${positions} positions`,
      },
      {
        check: 'logits-argmax',
        passed: argmaxMismatches === 0,
        maxDifference: argmaxMismatches,
        measure: 'mismatches',
        tolerance: 0,
        detail: `${positions - argmaxMismatches}/${positions} positions agree`,
      },
      {
        check: 'encoder-hidden-state',
        passed: hiddenDifference <= CHECK_TOLERANCES.encoderHiddenState,
        maxDifference: hiddenDifference,
        measure: 'absolute',
        tolerance: CHECK_TOLERANCES.encoderHiddenState,
        detail: `[${output.encoderHiddenState.shape}]`,
      },
    ];
  } finally {
    tf.dispose(output);
  }
}

function compareGradientNorms(
  model: T5Model,
  batch: Required<Pick<T5Batch, 'inputIds' | 'attentionMask' | 'labels'>>,
  reference: ModelReference,
): { check: CheckResult; worst?: WorstParameter } {
  const { value, grads } = tf.variableGrads(() => model.lossFn(batch), model.trainableVariables());
  const norms = new Map<string, number>();
  try {
    for (const [name, variable] of model.parameters) {
      const gradient = grads[variable.name];
      norms.set(name, gradient === undefined ? 0 : l2Norm(gradient.dataSync()));
    }
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
  const problems: string[] = [];
  let worst: WorstParameter | undefined;
  for (const [name, expected] of Object.entries(reference.grad_l2_norms)) {
    const actual = norms.get(name);
    if (actual === undefined) {
      problems.push(`reference has ${name}, the model does not`);
      continue;
    }
    const relativeDifference = Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE);
    if (worst === undefined || relativeDifference > worst.relativeDifference) worst = { name, expected, actual, relativeDifference };
  }
  for (const name of norms.keys()) if (!(name in reference.grad_l2_norms)) problems.push(`the model has ${name}, the reference does not`);
  const maxDifference = worst?.relativeDifference ?? 0;
  return {
    check: {
      check: 'gradient-norms',
      passed: problems.length === 0 && maxDifference <= CHECK_TOLERANCES.gradientNorms,
      maxDifference,
      measure: 'relative',
      tolerance: CHECK_TOLERANCES.gradientNorms,
      detail: problems.length > 0 ? problems.join('; ') : `${norms.size} parameters; worst ${worst?.name ?? 'none'}`,
    },
    worst,
  };
}

function compareGreedy(model: T5Model, reference: ModelReference): CheckResult {
  const expected = reference.greedy_generate_8;
  const maxNewTokens = Math.max(...expected.map((row) => row.length)) - 1;
  const actual = greedyGenerate(model, { inputIds: reference.input_ids, attentionMask: reference.attention_mask }, { maxNewTokens });
  let mismatches = 0;
  expected.forEach((row, b) => {
    const width = Math.max(row.length, actual[b]?.length ?? 0);
    for (let t = 0; t < width; t++) if (row[t] !== actual[b]?.[t]) mismatches++;
  });
  return {
    check: 'greedy-generate',
    passed: mismatches === 0,
    maxDifference: mismatches,
    measure: 'mismatches',
    tolerance: 0,
    detail: mismatches === 0 ? `${expected.length} sequences of ${maxNewTokens} new tokens identical` : `got ${JSON.stringify(actual)}`,
  };
}

function maxAbsoluteDifference(actual: number[], expected: number[]): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < actual.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}

function l2Norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/** A few lines for people (the CLI prints this). */
export function formatCheckModelSummary(summary: CheckModelSummary): string {
  const lines = [
    `${summary.passed ? 'PASS' : 'FAIL'} ${summary.directory}${summary.variant ? ` (${summary.variant})` : ''}: ` +
      `${summary.parameters.toLocaleString('en-US')} parameters on ${summary.backend.description}, ${summary.seconds.toFixed(1)} s`,
  ];
  for (const check of summary.checks) {
    const difference =
      check.measure === 'mismatches'
        ? `${check.maxDifference} mismatches`
        : `max ${check.measure} difference ${check.maxDifference.toExponential(2)} (tolerance ${check.tolerance})`;
    lines.push(`  ${check.passed ? 'ok  ' : 'FAIL'} ${check.check.padEnd(21)} ${difference}; ${check.detail}`);
  }
  if (summary.worstParameter) {
    const worst = summary.worstParameter;
    lines.push(`  worst gradient: ${worst.name} ${worst.actual.toPrecision(7)} vs ${worst.expected.toPrecision(7)}`);
  }
  return lines.join('\n');
}
