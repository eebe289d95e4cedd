import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { temporaryDirectory } from '../test-support/fixtures';
import { initBackend } from './backend';
import {
  AdamW,
  clipGradientsByGlobalNorm,
  createOptimizer,
  learningRateAt,
  loadOptimizerState,
  saveOptimizerState,
  type OptimizerConfig,
  type ScheduleConfig,
} from './optimizers';

/** Numbers made by PyTorch and transformers (fixtures/optimizers-fixture.py). */
interface TorchFixture {
  shapes: Record<string, number[]>;
  params: Record<string, number[]>;
  gradients: Record<string, number[]>[];
  cases: {
    name: string;
    kind: 'adamw' | 'adafactor';
    options: Record<string, unknown>;
    lrs: number[];
    after: Record<string, number[]>[];
    state: Record<string, { step: number; slots: Record<string, { shape: number[]; data: number[] }> }>;
  }[];
  schedules: (ScheduleConfig & { baseLearningRate: number; lrs: number[] })[];
  clipping: { maxNorm: number; gradients: Record<string, number[]>; norm: number; clipped: Record<string, number[]> }[];
}

const FIXTURE: TorchFixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'optimizers-torch.json'), 'utf8'));

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

function makeVariables(): Map<string, tf.Variable> {
  return new Map(Object.entries(FIXTURE.params).map(([name, data]) => [name, tf.variable(tf.tensor(data, FIXTURE.shapes[name]), true)]));
}

function gradientsOf(update: number): Map<string, tf.Tensor> {
  return new Map(Object.entries(FIXTURE.gradients[update]).map(([name, data]) => [name, tf.tensor(data, FIXTURE.shapes[name])]));
}

function applyUpdate(optimizer: ReturnType<typeof createOptimizer>, update: number, learningRate: number): void {
  const gradients = gradientsOf(update);
  optimizer.apply(gradients, learningRate);
  tf.dispose([...gradients.values()]);
}

/** float32 arithmetic in another order: agreement to a few float32 ulps of the values involved. */
function expectClose(actual: ArrayLike<number>, expected: readonly number[], what: string, tolerance = 2e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= tolerance * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs torch ${expected[i]} (difference ${error})`);
    }
  }
}

describe.each(FIXTURE.cases.map((testCase) => [testCase.name, testCase] as const))('%s against PyTorch', (_name, testCase) => {
  const config = { kind: testCase.kind, ...testCase.options } as OptimizerConfig;

  test('parameters after each of 4 updates, and the final state (step counts and slots)', () => {
    const variables = makeVariables();
    const optimizer = createOptimizer(variables, config);
    testCase.after.forEach((expected, update) => {
      applyUpdate(optimizer, update, testCase.lrs[update]);
      for (const [name, values] of Object.entries(expected)) expectClose(variables.get(name)!.dataSync(), values, `update ${update + 1}, ${name}`);
    });
    const state = optimizer.state();
    expect(state.steps).toEqual(Object.fromEntries(Object.entries(testCase.state).map(([name, s]) => [name, s.step])));
    const expectedSlots = Object.entries(testCase.state).flatMap(([name, s]) => Object.keys(s.slots).map((slot) => `${name}/${slot}`));
    expect([...state.tensors.keys()].sort()).toEqual(expectedSlots.sort());
    for (const [name, s] of Object.entries(testCase.state)) {
      for (const [slot, expected] of Object.entries(s.slots)) {
        const actual = state.tensors.get(`${name}/${slot}`)!;
        expect(actual.shape).toEqual(expected.shape);
        // second moments of a 1e-4 gradient are ~1e-8 after decay: compare relative to their own size
        expectClose(actual.data, expected.data, `${name}/${slot}`, slot.startsWith('exp_avg_sq') ? 1e-5 : 2e-6);
      }
    }
    optimizer.dispose();
    tf.dispose([...variables.values()]);
  });

  test('saving the state after 2 updates and loading it into a fresh optimizer continues bitwise', () => {
    const straightVariables = makeVariables();
    const straight = createOptimizer(straightVariables, config);
    for (let update = 0; update < 4; update++) applyUpdate(straight, update, testCase.lrs[update]);

    const firstVariables = makeVariables();
    const first = createOptimizer(firstVariables, config);
    for (let update = 0; update < 2; update++) applyUpdate(first, update, testCase.lrs[update]);
    const directory = temporaryDirectory('zsd-optimizer-');
    saveOptimizerState(directory, first.state());
    const parameters = new Map([...firstVariables].map(([name, variable]) => [name, Float32Array.from(variable.dataSync() as Float32Array)]));
    first.dispose();
    tf.dispose([...firstVariables.values()]);

    const resumedVariables = new Map([...parameters].map(([name, data]) => [name, tf.variable(tf.tensor(data, FIXTURE.shapes[name]), true)]));
    const resumed = createOptimizer(resumedVariables, config);
    resumed.loadState(loadOptimizerState(directory));
    for (let update = 2; update < 4; update++) applyUpdate(resumed, update, testCase.lrs[update]);
    for (const name of straightVariables.keys()) {
      expect(Array.from(resumedVariables.get(name)!.dataSync())).toEqual(Array.from(straightVariables.get(name)!.dataSync()));
    }
    tf.dispose([...straightVariables.values(), ...resumedVariables.values()]);
    straight.dispose();
    resumed.dispose();
    fs.rmSync(directory, { recursive: true, force: true });
  });
});

test('AdamW first update, computed by hand in doubles: p(1 - lr wd) - lr g / (|g| + eps)', () => {
  // after one step the bias corrections make m_hat = g and v_hat = g^2 exactly (up to float32 rounding)
  const lr = 0.01;
  const weightDecay = 0.01;
  const variables = makeVariables();
  const optimizer = new AdamW(variables, { weightDecay });
  applyUpdate(optimizer, 0, lr);
  for (const [name, initial] of Object.entries(FIXTURE.params)) {
    const expected = initial.map((p, i) => {
      const g = FIXTURE.gradients[0][name][i];
      return p * (1 - lr * weightDecay) - (lr * g) / (Math.abs(g) + 1e-8);
    });
    expectClose(variables.get(name)!.dataSync(), expected, name, 1e-6);
  }
  optimizer.dispose();
  tf.dispose([...variables.values()]);
});

test('updates keep the tensor count flat (old slots and parameter values are freed)', () => {
  for (const config of [{ kind: 'adamw' }, { kind: 'adafactor', beta1: 0.9 }] as OptimizerConfig[]) {
    const variables = makeVariables();
    const optimizer = createOptimizer(variables, config);
    applyUpdate(optimizer, 0, 1e-3); // creates the slots
    const before = tf.memory().numTensors;
    for (let update = 1; update < 4; update++) applyUpdate(optimizer, update % 3, 1e-3);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    tf.dispose([...variables.values()]);
  }
});

test('loading a state made with other options, or by the other optimizer, is refused', () => {
  const variables = makeVariables();
  const adamw = createOptimizer(variables, { kind: 'adamw', weightDecay: 0 });
  applyUpdate(adamw, 0, 1e-3);
  const state = adamw.state();
  const other = createOptimizer(variables, { kind: 'adamw', weightDecay: 0.1 });
  expect(() => other.loadState(state)).toThrow(/weightDecay = 0, this optimizer has 0.1/);
  const adafactor = createOptimizer(variables, { kind: 'adafactor' });
  expect(() => adafactor.loadState(state)).toThrow(/state is for adamw/);
  expect(() => createOptimizer(variables, { kind: 'adafactor', warmupInit: true, relativeStep: false })).toThrow(/requires relativeStep/);
  [adamw, other, adafactor].forEach((optimizer) => optimizer.dispose());
  tf.dispose([...variables.values()]);
});

test.each(
  FIXTURE.schedules.map(
    (schedule) =>
      [`${schedule.kind} warm-up ${schedule.warmupSteps} of ${schedule.totalSteps}${schedule.cycles ? `, ${schedule.cycles} cycles` : ''}`, schedule] as const,
  ),
)('schedule %s: the learning rate of each update as transformers + Trainer apply it', (_name, schedule) => {
  const rates = schedule.lrs.map((_, step) => learningRateAt(schedule.baseLearningRate, schedule, step));
  rates.forEach((rate, step) => expect(rate).toBeCloseTo(schedule.lrs[step], 18));
});

test.each(FIXTURE.clipping.map((clip) => [clip.norm, clip] as const))('clip_grad_norm_ with global norm %f', (_norm, clip) => {
  const gradients = new Map(Object.entries(clip.gradients).map(([name, data]) => [name, tf.tensor(data, FIXTURE.shapes[name])]));
  const result = clipGradientsByGlobalNorm(gradients, clip.maxNorm);
  expect(result.norm).toBeCloseTo(clip.norm, 5);
  for (const [name, expected] of Object.entries(clip.clipped)) expectClose(result.gradients.get(name)!.dataSync(), expected, name, 1e-6);
  tf.dispose([...new Set([...gradients.values(), ...result.gradients.values()])]);
});
