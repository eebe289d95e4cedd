import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DATA_ROOT } from '../test-support/fixtures';
import { initBackend } from './backend';
import { readSafetensorsHeader } from './safetensors';
import { presetConfig, readT5Config, type T5Config } from './t5-config';
import { crossEntropy, dropoutMask, IGNORE_INDEX, relativePositionBucket, shiftRight, t5ParameterShapes, T5Model, type T5Batch } from './t5-model';

const REFERENCE = path.join(DATA_ROOT, 't5-reference');

beforeAll(async () => {
  await initBackend();
});

/** A tiny config where num_heads * d_kv (3 * 6) differs from d_model (16). */
function tinyConfig(overrides: Parameters<typeof presetConfig>[1] = {}): T5Config {
  return presetConfig('t5-efficient-tiny', {
    vocabSize: 40,
    dModel: 16,
    dKv: 6,
    numHeads: 3,
    dFf: 24,
    numLayers: 2,
    numDecoderLayers: 1,
    dropoutRate: 0.1,
    ...overrides,
  });
}

function tinyBatch(): T5Batch {
  return {
    inputIds: tf.tensor2d(
      [
        [5, 6, 7, 8, 1],
        [9, 10, 1, 0, 0],
      ],
      undefined,
      'int32',
    ),
    attentionMask: tf.tensor2d(
      [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0],
      ],
      undefined,
      'int32',
    ),
    labels: tf.tensor2d(
      [
        [11, 12, 1],
        [13, 1, IGNORE_INDEX],
      ],
      undefined,
      'int32',
    ),
  };
}

function disposeBatch(batch: T5Batch): void {
  tf.dispose([batch.inputIds, batch.attentionMask, batch.labels!]);
}

describe('relative position buckets (transformers T5Attention._relative_position_bucket, 32 buckets, max distance 128)', () => {
  test('bidirectional (encoder): exact up to 7, logarithmic to 127, keys after the query in the upper half', () => {
    const bucket = (relative: number) => relativePositionBucket(relative, true, 32, 128);
    expect([0, -1, -7, -8, -11, -12, -16, -20, -32, -64, -127, -1000].map(bucket)).toEqual([0, 1, 7, 8, 8, 9, 10, 10, 12, 14, 15, 15]);
    expect([1, 7, 8, 16, 20, 127].map(bucket)).toEqual([17, 23, 24, 26, 26, 31]);
  });

  test('causal (decoder): keys after the query share bucket 0; exact up to 15', () => {
    const bucket = (relative: number) => relativePositionBucket(relative, false, 32, 128);
    expect([5, 1, 0, -1, -15, -16, -20, -32, -64, -127, -128, -500].map(bucket)).toEqual([0, 0, 0, 1, 15, 16, 17, 21, 26, 31, 31, 31]);
  });
});

test('parameter names and shapes are exactly those of the transformers checkpoints', () => {
  for (const variant of ['v1_1', 'orig']) {
    const directory = path.join(REFERENCE, variant);
    const header = readSafetensorsHeader(path.join(directory, 'model.safetensors'));
    const fromFile = Object.entries(header.tensors).map(([name, info]): [string, number[]] => [name, info.shape]);
    const expected = [...t5ParameterShapes(readT5Config(path.join(directory, 'config.json')))];
    expect(new Map(expected)).toEqual(new Map(fromFile));
  }
  const untied = t5ParameterShapes(tinyConfig({ tieWordEmbeddings: false }));
  expect(untied.get('lm_head.weight')).toEqual([40, 16]);
  expect(untied.get('encoder.block.0.layer.0.SelfAttention.q.weight')).toEqual([18, 16]);
  expect(untied.get('decoder.block.0.layer.1.EncDecAttention.o.weight')).toEqual([16, 18]);
  expect(untied.has('encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight')).toBe(false);
});

test('randomInit follows transformers _init_weights (factor 1) and is reproducible from its seed', () => {
  const config = presetConfig('zsd-bench', { numLayers: 1, vocabSize: 2000 });
  const model = T5Model.randomInit(config, 3);
  const again = T5Model.randomInit(config, 3);
  const std = (name: string) => tf.tidy(() => Math.sqrt(tf.moments(model.parameters.get(name)!).variance.dataSync()[0]));
  expect(std('shared.weight')).toBeCloseTo(1, 1);
  expect(std('lm_head.weight')).toBeCloseTo(1, 1);
  expect(std('encoder.block.0.layer.0.SelfAttention.q.weight') / (256 * 64) ** -0.5).toBeCloseTo(1, 1);
  expect(std('encoder.block.0.layer.0.SelfAttention.k.weight') / 256 ** -0.5).toBeCloseTo(1, 1);
  expect(std('encoder.block.0.layer.0.SelfAttention.o.weight') / (4 * 64) ** -0.5).toBeCloseTo(1, 1);
  expect(std('decoder.block.0.layer.2.DenseReluDense.wi_1.weight') / 256 ** -0.5).toBeCloseTo(1, 1);
  expect(std('decoder.block.0.layer.2.DenseReluDense.wo.weight') / 1024 ** -0.5).toBeCloseTo(1, 1);
  expect([...model.parameters.get('encoder.final_layer_norm.weight')!.dataSync()].every((value) => value === 1)).toBe(true);
  const first = model.toHostTensors();
  const second = again.toHostTensors();
  for (const [name, tensor] of first) expect(Buffer.from(tensor.data.buffer).equals(Buffer.from(second.get(name)!.data.buffer))).toBe(true);
  model.dispose();
  again.dispose();
  // seed 0 too: tf.randomNormal reads a seed of 0 as none
  const [zero, zeroAgain] = [T5Model.randomInit(config, 0), T5Model.randomInit(config, 0)];
  const zeroWeights = zeroAgain.toHostTensors();
  for (const [name, tensor] of zero.toHostTensors()) expect(Buffer.from(tensor.data.buffer).equals(Buffer.from(zeroWeights.get(name)!.data.buffer))).toBe(true);
  zero.dispose();
  zeroAgain.dispose();
});

test('shiftRight puts the decoder start token first and turns -100 into the pad token', () => {
  expect(
    shiftRight(
      [
        [644, 4598, 1],
        [3, 1, IGNORE_INDEX],
      ],
      0,
      0,
    ),
  ).toEqual([
    [0, 644, 4598],
    [0, 3, 1],
  ]);
});

describe('a tiny model (num_heads * d_kv != d_model, dropout 0.1)', () => {
  let model: T5Model;
  beforeAll(() => {
    model = T5Model.randomInit(tinyConfig({ tieWordEmbeddings: false }), 7);
  });
  afterAll(() => model.dispose());

  test('forward gives logits [b, t, vocab], the encoder state and a finite loss; eval mode is deterministic; no tensor leaks', () => {
    const batch = tinyBatch();
    const before = tf.memory().numTensors;
    const first = model.forward(batch);
    expect(first.logits.shape).toEqual([2, 3, 40]);
    expect(first.encoderHiddenState.shape).toEqual([2, 5, 16]);
    expect(Number.isFinite(first.loss!.dataSync()[0])).toBe(true);
    const second = model.forward(batch);
    expect(second.logits.dataSync()).toEqual(first.logits.dataSync());
    const training = model.forward(batch, { training: true });
    expect(training.logits.dataSync()).not.toEqual(first.logits.dataSync());
    tf.dispose([first, second, training]);
    expect(tf.memory().numTensors).toBe(before);
    disposeBatch(batch);
  });

  test('a decoder attention mask of ones changes nothing; a zero hides that position from later ones only', () => {
    const batch = tinyBatch();
    const plain = model.forward(batch);
    const ones = model.forward({ ...batch, decoderAttentionMask: tf.ones([2, 3], 'int32') as tf.Tensor2D });
    expect(ones.logits.dataSync()).toEqual(plain.logits.dataSync());
    const hidden = model.forward({
      ...batch,
      decoderAttentionMask: tf.tensor2d(
        [
          [1, 0, 1],
          [1, 1, 1],
        ],
        undefined,
        'int32',
      ),
    });
    const [before, changed] = [plain.logits.arraySync() as number[][][], hidden.logits.arraySync() as number[][][]];
    expect(changed[0][0]).toEqual(before[0][0]);
    expect(changed[0][2]).not.toEqual(before[0][2]);
    expect(changed[1]).toEqual(before[1]);
    tf.dispose([plain, ones, hidden]);
    disposeBatch(batch);
  });

  test('dropout masks follow the dropout seed', () => {
    const batch = tinyBatch();
    const run = (seed: number) => {
      model.seedDropout(seed);
      return tf.tidy(() => model.forward(batch, { training: true }).logits.dataSync());
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
    disposeBatch(batch);
  });

  test('the loss is the mean cross-entropy over labels that are not -100', () => {
    const batch = tinyBatch();
    const { logits, loss, encoderHiddenState } = model.forward(batch);
    const logProbabilities = tf.tidy(() => tf.logSoftmax(logits).arraySync() as number[][][]);
    const labels = batch.labels!.arraySync();
    const picked = labels.flatMap((row, b) => row.flatMap((label, t) => (label === IGNORE_INDEX ? [] : [logProbabilities[b][t][label]])));
    expect(picked).toHaveLength(5);
    expect(loss!.dataSync()[0]).toBeCloseTo(-picked.reduce((sum, value) => sum + value, 0) / picked.length, 5);
    tf.dispose([logits, loss!, encoderHiddenState]);
    disposeBatch(batch);
  });

  test('lossFn (lm_head only at counted positions, chunked backward) = cross-entropy of all logits, value and gradients', () => {
    for (const config of [tinyConfig({ tieWordEmbeddings: false }), tinyConfig({ tieWordEmbeddings: true, vocabSize: 4100 })]) {
      // vocab 4100 > one 2048-row chunk of lmHeadCrossEntropy's backward: the chunk seams are covered
      const subject = T5Model.randomInit(config, 13);
      const batch = tinyBatch();
      const variables = subject.trainableVariables();
      const names = new Map([...subject.parameters].map(([name, variable]) => [variable.name, name]));
      const gradientsOf = (loss: () => tf.Scalar) => {
        const { value, grads } = tf.variableGrads(loss, variables);
        const host = new Map(Object.entries(grads).map(([variable, gradient]) => [names.get(variable)!, gradient.dataSync() as Float32Array]));
        const result = { value: value.dataSync()[0], host };
        tf.dispose([value, ...Object.values(grads)]);
        return result;
      };
      const direct = gradientsOf(() => subject.lossFn(batch));
      const viaLogits = gradientsOf(() => crossEntropy(subject.forward(batch).logits, batch.labels!));
      expect(direct.value).toBeCloseTo(viaLogits.value, 5);
      expect([...direct.host.keys()].sort()).toEqual([...viaLogits.host.keys()].sort());
      for (const [name, expected] of viaLogits.host) {
        const actual = direct.host.get(name)!;
        const scale = Math.max(1e-3, ...Array.from(expected, Math.abs));
        const worst = Math.max(...Array.from(expected, (value, i) => Math.abs(value - actual[i])));
        if (worst / scale > 1e-5) throw new Error(`${name}: gradients differ by ${worst} (scale ${scale})`);
      }
      subject.dispose();
      disposeBatch(batch);
    }
  });

  test('dropout keeps 1 - rate of the entries, scaled by 1 / (1 - rate), the same for the same seed', () => {
    const mask = (seed: number) => dropoutMask([64, 1000], 0.1, seed).dataSync();
    const first = mask(3);
    const kept = first.filter((value) => value !== 0);
    expect(kept.length / first.length).toBeCloseTo(0.9, 2);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.9)]));
    expect(mask(3)).toEqual(first);
    expect(mask(2 ** 40 + 3)).not.toEqual(first); // the seed's high bits count too
  });

  test('padding is masked: changing padded input tokens changes nothing', () => {
    const batch = tinyBatch();
    const changed = {
      ...batch,
      inputIds: tf.tensor2d(
        [
          [5, 6, 7, 8, 1],
          [9, 10, 1, 33, 21],
        ],
        undefined,
        'int32',
      ),
    };
    const a = model.forward(batch);
    const b = model.forward(changed);
    expect(b.logits.dataSync()).toEqual(a.logits.dataSync());
    tf.dispose([a, b, changed.inputIds]);
    disposeBatch(batch);
  });

  test('training with Adam lowers the loss, touches every parameter, and leaks no tensors per step', () => {
    const trained = T5Model.randomInit(tinyConfig({ tieWordEmbeddings: false, dropoutRate: 0 }), 11);
    const batch = tinyBatch();
    const optimizer = tf.train.adam(1e-2);
    const variables = trained.trainableVariables();
    const start = trained.toHostTensors();
    const losses: number[] = [];
    let tensorsAfterFirstStep = 0;
    for (let step = 0; step < 20; step++) {
      const loss = optimizer.minimize(() => trained.lossFn(batch, { training: true }), true, variables)!;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      if (step === 0) tensorsAfterFirstStep = tf.memory().numTensors; // Adam's slots appear at the first step
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstStep);
    expect(losses[19]).toBeLessThan(losses[0] * 0.5);
    const end = trained.toHostTensors();
    const unchanged = [...start].filter(([name, tensor]) => Buffer.from(tensor.data.buffer).equals(Buffer.from(end.get(name)!.data.buffer)));
    expect(unchanged.map(([name]) => name)).toEqual([]);
    optimizer.dispose();
    trained.dispose();
    disposeBatch(batch);
  });
});

test('label smoothing: lossFn is (1 - ε) NLL + ε mean over the vocabulary of -log p, gradients included (two vocabulary chunks)', () => {
  const vocab = 2100; // > lmHeadCrossEntropy's chunk of 2048 columns: targets in both chunks
  const model = T5Model.randomInit(tinyConfig({ vocabSize: vocab, tieWordEmbeddings: false }), 11);
  const labels = [
    [11, 2050, 1],
    [2099, 1, IGNORE_INDEX],
  ];
  const batch: T5Batch = { ...tinyBatch(), labels: tf.tensor2d(labels, undefined, 'int32') };
  const epsilon = 0.1;
  const variables = model.trainableVariables();
  const rows = labels.flat();
  const valid = tf.tensor1d(rows.map((label) => (label === IGNORE_INDEX ? 0 : 1)));
  const oneHot = tf.tensor2d(rows.map((label) => Array.from({ length: vocab }, (_, column) => (column === label ? 1 : 0))));
  const count = rows.filter((label) => label !== IGNORE_INDEX).length;
  // the definition, through generic ops: log p = z - m - log(sum(exp(z - m))) with m the rows' maxima (a constant)
  const reference = () => {
    const logits = tf.reshape(model.forward(batch).logits, [rows.length, vocab]);
    const maxima = tf.tensor2d(Array.from(tf.max(logits, 1).dataSync(), (value) => [value]));
    const shifted = tf.sub(logits, maxima);
    const logProbabilities = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true)));
    const negativeLogLikelihood = tf.neg(tf.sum(tf.mul(logProbabilities, oneHot), 1));
    const smoothed = tf.neg(tf.mean(logProbabilities, 1));
    const perPosition = tf.add(tf.mul(negativeLogLikelihood, 1 - epsilon), tf.mul(smoothed, epsilon));
    return tf.div(tf.sum(tf.mul(perPosition, valid)), count) as tf.Scalar;
  };
  const want = tf.variableGrads(reference, variables);
  const got = tf.variableGrads(() => model.lossFn(batch, { labelSmoothing: epsilon }), variables);
  const plain = tf.tidy(() => model.lossFn(batch).dataSync()[0]);
  expect(got.value.dataSync()[0]).toBeCloseTo(want.value.dataSync()[0], 5);
  expect(Math.abs(got.value.dataSync()[0] - plain)).toBeGreaterThan(1e-3); // smoothing changes the loss
  for (const [name, gradient] of Object.entries(want.grads)) {
    const expected = gradient.dataSync();
    const actual = got.grads[name].dataSync();
    const scale = Math.max(...Array.from(expected, Math.abs));
    const worst = Math.max(...Array.from(expected, (value, index) => Math.abs(value - actual[index])));
    expect(worst / scale).toBeLessThan(1e-4);
  }
  expect(() => model.lossFn(batch, { labelSmoothing: 1 })).toThrow(/label smoothing must be in \[0, 1\), got 1/);
  tf.dispose([want.value, got.value, ...Object.values(want.grads), ...Object.values(got.grads), valid, oneHot]);
  disposeBatch(batch);
  model.dispose();
});
