import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../student/backend';
import { readSafetensors, writeSafetensors } from '../student/safetensors';
import { presetConfig } from '../student/t5-config';
import { T5Model } from '../student/t5-model';
import { saveT5Model } from '../student/t5-weights';
import { availableBackendFlags, expectedBackendName } from '../test-support/backends';
import { DATA_ROOT, runCliAsync, temporaryDirectory, writeFile } from '../test-support/fixtures';

// `zsd check-model` and `zsd predict` as a user runs them, on the shared reference checkpoints (saved by transformers).
const REFERENCES = path.join(DATA_ROOT, 't5-reference');

function copyReference(variant: string): string {
  const directory = temporaryDirectory();
  for (const file of fs.readdirSync(path.join(REFERENCES, variant))) fs.copyFileSync(path.join(REFERENCES, variant, file), path.join(directory, file));
  for (const file of fs.readdirSync(directory)) fs.chmodSync(path.join(directory, file), 0o644);
  return directory;
}

const BACKEND_NAMES = { wasm: 'wasm', node: 'tensorflow' } as const;
const CASES = availableBackendFlags().flatMap((backend) => ['v1_1', 'orig'].map((variant) => [variant, backend] as const));

test.each(CASES)('check-model passes the %s reference on --backend %s', async (variant, backend) => {
  const result = await runCliAsync(['check-model', path.join(REFERENCES, variant), '--json', '--backend', backend]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const summary = JSON.parse(result.stdout);
  expect(summary).toMatchObject({ passed: true, backend: { name: BACKEND_NAMES[backend] } });
  expect(summary.checks.map((check: { check: string }) => check.check).sort()).toEqual([
    'encoder-hidden-state',
    'gradient-norms',
    'greedy-generate',
    'logits',
    'logits-argmax',
    'loss',
  ]);
});

test('check-model exits 1 and names the failing check when the numbers disagree', async () => {
  const directory = copyReference('orig');
  const reference = JSON.parse(fs.readFileSync(path.join(directory, 'reference.json'), 'utf8'));
  reference.loss *= 1.001;
  reference.grad_l2_norms['decoder.final_layer_norm.weight'] *= 1.01;
  fs.writeFileSync(path.join(directory, 'reference.json'), JSON.stringify(reference));
  const result = await runCliAsync(['check-model', directory]);
  expect(result.status).toBe(1);
  const summary = JSON.parse(result.stdout);
  expect(summary.passed).toBe(false);
  const failed = summary.checks.filter((check: { passed: boolean }) => !check.passed).map((check: { check: string }) => check.check);
  expect(failed.sort()).toEqual(['gradient-norms', 'loss']);
  expect(result.stderr).toMatch(/FAIL\s+loss/);
});

describe('a broken checkpoint is refused with an error naming the file and the key or tensor', () => {
  test('unknown feed_forward_proj', async () => {
    const directory = copyReference('v1_1');
    const config = JSON.parse(fs.readFileSync(path.join(directory, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(directory, 'config.json'), JSON.stringify({ ...config, feed_forward_proj: 'gated-swoosh', dense_act_fn: 'swoosh' }));
    const result = await runCliAsync(['check-model', directory]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/config\.json.*feed_forward_proj/);
  });

  test('truncated safetensors header', async () => {
    const directory = copyReference('v1_1');
    const weights = path.join(directory, 'model.safetensors');
    fs.writeFileSync(weights, fs.readFileSync(weights).subarray(0, 100));
    const result = await runCliAsync(['check-model', directory]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('model.safetensors');
    expect(result.stderr).toMatch(/header/i);
  });

  test('a missing tensor', async () => {
    const directory = copyReference('orig');
    const tensors = readSafetensors(path.join(directory, 'model.safetensors'));
    tensors.delete('encoder.block.1.layer.0.SelfAttention.k.weight');
    writeSafetensors(path.join(directory, 'model.safetensors'), tensors);
    const result = await runCliAsync(['check-model', directory]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('encoder.block.1.layer.0.SelfAttention.k.weight');
  });
});

test('predict answers every input line (JSON or text) with the task prefix, deterministically, greedy or beam', async () => {
  await initBackend({ prefer: 'wasm' });
  const directory = temporaryDirectory();
  const model = T5Model.randomInit(presetConfig('t5-efficient-tiny', { numLayers: 1, dModel: 64, dKv: 16, dFf: 128 }), 3);
  saveT5Model(model, directory);
  model.dispose();
  const input = writeFile(
    path.join(temporaryDirectory(), 'inputs.jsonl'),
    '{"input": "Premise: a man sleeps. Hypothesis: a man is awake."}\nHow many apples are left?\n\n{"input": "What is 2 + 3?"}\n',
  );
  const args = ['predict', '--model', directory, '--input', input, '--max-new-tokens', '5', '--batch-size', '2'];
  const first = await runCliAsync(args);
  expect(first.status).toBe(0);
  expect(first.stderr).toMatch(expectedBackendName() === 'wasm' ? /backend: .*wasm/ : /backend: .*native TensorFlow/);
  const predictions = first.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(predictions.map((line) => line.input)).toEqual(['Premise: a man sleeps. Hypothesis: a man is awake.', 'How many apples are left?', 'What is 2 + 3?']);
  for (const line of predictions) expect(typeof line.prediction).toBe('string');
  expect((await runCliAsync(args)).stdout).toBe(first.stdout);
  const beams = await runCliAsync([...args, '--num-beams', '3']);
  expect(beams.status).toBe(0);
  expect(beams.stdout.trim().split('\n')).toHaveLength(3);

  // The same checkpoint gives the same predictions on every installed backend.
  for (const backend of availableBackendFlags()) {
    const other = await runCliAsync([...args, '--backend', backend]);
    expect(other.status).toBe(0);
    expect(other.stdout).toBe(first.stdout);
  }

  const bad = writeFile(path.join(temporaryDirectory(), 'bad.jsonl'), '{"text": "no input field"}\n');
  const refused = await runCliAsync(['predict', '--model', directory, '--input', bad]);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/bad\.jsonl:1, key input: expected a JSON object with a string "input"/);
});
