import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { isZsdError } from '../core/errors';
import { expectedBackendName } from '../test-support/backends';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { checkModel, formatCheckModelSummary, readModelReference, type CheckName } from './check-model';

const REFERENCE = path.join(DATA_ROOT, 't5-reference');

describe.each(['v1_1', 'orig'])('checkModel on the %s fixture (PyTorch reference)', (variant) => {
  test(`every check passes on the ${expectedBackendName()} backend, within tolerance`, async () => {
    const summary = await checkModel(path.join(REFERENCE, variant));
    const byName = new Map(summary.checks.map((check) => [check.check, check]));
    const names: CheckName[] = ['loss', 'logits', 'logits-argmax', 'encoder-hidden-state', 'gradient-norms', 'greedy-generate'];
    expect([...byName.keys()].sort()).toEqual([...names].sort());
    expect(summary.backend.name).toBe(expectedBackendName());
    expect(summary.variant).toBe(variant);
    expect(byName.get('loss')!.maxDifference).toBeLessThanOrEqual(1e-5);
    expect(byName.get('logits')!.maxDifference).toBeLessThanOrEqual(1e-4);
    expect(byName.get('encoder-hidden-state')!.maxDifference).toBeLessThanOrEqual(1e-4);
    expect(byName.get('gradient-norms')!.maxDifference).toBeLessThanOrEqual(1e-3);
    expect(byName.get('logits-argmax')!.maxDifference).toBe(0);
    expect(byName.get('greedy-generate')!.maxDifference).toBe(0);
    expect(summary.worstParameter?.name).toBeDefined();
    expect(summary.checks.every((check) => check.passed)).toBe(true);
    expect(summary.passed).toBe(true);
    expect(formatCheckModelSummary(summary)).toMatch(/^PASS /);
    expect(tf.memory().numTensors).toBe(0);
  });
});

describe('a reference that disagrees', () => {
  function fixtureWithReference(edit: (reference: Record<string, unknown>) => void): string {
    const directory = temporaryDirectory('zsd-check-model-');
    for (const file of ['config.json', 'model.safetensors']) fs.symlinkSync(path.join(REFERENCE, 'orig', file), path.join(directory, file));
    const reference = JSON.parse(fs.readFileSync(path.join(REFERENCE, 'orig', 'reference.json'), 'utf8')) as Record<string, unknown>;
    edit(reference);
    fs.writeFileSync(path.join(directory, 'reference.json'), JSON.stringify(reference));
    return directory;
  }

  test('fails the checks it concerns, naming the worst parameter', async () => {
    const directory = fixtureWithReference((reference) => {
      reference.loss = (reference.loss as number) * (1 + 1e-4);
      (reference.greedy_generate_8 as number[][])[1][3] += 1;
      (reference.grad_l2_norms as Record<string, number>)['decoder.block.1.layer.0.SelfAttention.v.weight'] *= 1.01;
    });
    const summary = await checkModel(directory);
    const failed = summary.checks.filter((check) => !check.passed).map((check) => check.check);
    expect(failed.sort()).toEqual(['gradient-norms', 'greedy-generate', 'loss']);
    expect(summary.passed).toBe(false);
    expect(summary.worstParameter?.name).toBe('decoder.block.1.layer.0.SelfAttention.v.weight');
    expect(formatCheckModelSummary(summary)).toMatch(/^FAIL /);
    fs.rmSync(directory, { recursive: true, force: true });
  });

  test('a malformed reference.json is reported with the key', () => {
    const directory = fixtureWithReference((reference) => {
      delete reference.grad_l2_norms;
    });
    const error = (() => {
      try {
        readModelReference(path.join(directory, 'reference.json'));
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(isZsdError(error) && error.kind).toBe('invalid-file');
    expect(isZsdError(error) && error.location.key).toBe('grad_l2_norms');
    fs.rmSync(directory, { recursive: true, force: true });
  });
});
