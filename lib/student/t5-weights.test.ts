import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { isZsdError, type ZsdError } from '../core/errors';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { initBackend } from './backend';
import { readSafetensors, writeSafetensors, type HostTensor } from './safetensors';
import { presetConfig, readT5Config } from './t5-config';
import { T5Model } from './t5-model';
import { loadT5Checkpoint, loadT5Model, saveT5Model } from './t5-weights';

const REFERENCE = path.join(DATA_ROOT, 't5-reference');

const created: string[] = [];
/** A fresh directory, removed after the tests (checkpoints are megabytes). */
function scratchDirectory(prefix: string): string {
  const directory = temporaryDirectory(prefix);
  created.push(directory);
  return directory;
}

beforeAll(async () => {
  await initBackend();
});

afterAll(() => {
  for (const directory of created) fs.rmSync(directory, { recursive: true, force: true });
});

function sameBits(a: HostTensor, b: HostTensor): boolean {
  return (
    a.shape.join() === b.shape.join() &&
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))
  );
}

/** A checkpoint directory with the fixture's config and the given tensors. */
function checkpointWith(variant: string, edit: (tensors: Map<string, HostTensor>) => void): string {
  const directory = scratchDirectory('zsd-t5-weights-');
  fs.copyFileSync(path.join(REFERENCE, variant, 'config.json'), path.join(directory, 'config.json'));
  const tensors = readSafetensors(path.join(REFERENCE, variant, 'model.safetensors'));
  edit(tensors);
  writeSafetensors(path.join(directory, 'model.safetensors'), tensors);
  return directory;
}

function loadError(directory: string): ZsdError {
  try {
    loadT5Model(directory).dispose();
  } catch (error) {
    if (isZsdError(error)) return error;
    throw error;
  }
  throw new Error('expected the load to fail');
}

describe.each(['v1_1', 'orig'])('the %s fixture', (variant) => {
  const source = path.join(REFERENCE, variant);

  test('loads with every tensor bitwise as stored', () => {
    const { model, files } = loadT5Checkpoint(source);
    expect(files).toEqual([path.join(source, 'model.safetensors')]);
    const stored = readSafetensors(path.join(source, 'model.safetensors'));
    const loaded = model.toHostTensors();
    expect([...loaded.keys()].sort()).toEqual([...stored.keys()].sort());
    for (const [name, tensor] of stored) expect(sameBits(loaded.get(name)!, tensor)).toBe(true);
    model.dispose();
  });

  test('save -> load is exact, and the saved weights file is byte-identical to the transformers one', () => {
    const model = loadT5Model(source);
    const directory = scratchDirectory('zsd-t5-save-');
    saveT5Model(model, directory);
    expect(fs.readdirSync(directory).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(fs.readFileSync(path.join(directory, 'model.safetensors')).equals(fs.readFileSync(path.join(source, 'model.safetensors')))).toBe(true);
    expect(readT5Config(path.join(directory, 'config.json'))).toEqual(readT5Config(path.join(source, 'config.json')));
    const reloaded = loadT5Model(directory);
    const before = model.toHostTensors();
    for (const [name, tensor] of reloaded.toHostTensors()) expect(sameBits(tensor, before.get(name)!)).toBe(true);
    model.dispose();
    reloaded.dispose();
  });
});

test('an untied model saves lm_head.weight and round-trips exactly', () => {
  const model = T5Model.randomInit(presetConfig('zsd-bench', { vocabSize: 300, dModel: 16, dKv: 4, dFf: 32, numLayers: 1 }), 5);
  const directory = scratchDirectory('zsd-t5-untied-');
  saveT5Model(model, directory);
  const saved = readSafetensors(path.join(directory, 'model.safetensors'));
  expect(saved.has('lm_head.weight')).toBe(true);
  const config = JSON.parse(fs.readFileSync(path.join(directory, 'config.json'), 'utf8')) as Record<string, unknown>;
  expect(config.tie_word_embeddings).toBe(false);
  expect(Object.keys(config)).toEqual(Object.keys(config).sort());
  const reloaded = loadT5Model(directory);
  const before = model.toHostTensors();
  for (const [name, tensor] of reloaded.toHostTensors()) expect(sameBits(tensor, before.get(name)!)).toBe(true);
  model.dispose();
  reloaded.dispose();
});

describe('strict loading', () => {
  const name = 'decoder.block.1.layer.1.EncDecAttention.k.weight';

  test('a missing tensor is named, with its expected shape', () => {
    const error = loadError(checkpointWith('v1_1', (tensors) => tensors.delete(name)));
    expect(error.kind).toBe('invalid-file');
    expect(error.location.key).toBe(name);
    expect(error.location.file).toMatch(/model\.safetensors$/);
    expect(error.message).toContain(`missing tensor ${name} (expected shape [32, 32])`);
  });

  test('a mis-shaped tensor is named, with both shapes', () => {
    const error = loadError(checkpointWith('orig', (tensors) => tensors.set(name, { shape: [48, 24], data: new Float32Array(48 * 24) })));
    expect(error.location.key).toBe(name);
    expect(error.message).toContain(`tensor ${name} has shape [48, 24], expected [48, 48]`);
  });

  test('an unexpected tensor is named', () => {
    const extra = 'encoder.block.2.layer.0.SelfAttention.q.weight';
    const error = loadError(checkpointWith('v1_1', (tensors) => tensors.set(extra, { shape: [32, 32], data: new Float32Array(32 * 32) })));
    expect(error.location.key).toBe(extra);
    expect(error.message).toContain(`unexpected tensor ${extra}`);
  });

  test('copies of shared.weight under the embed_tokens names are accepted only when equal', () => {
    const shared = (tensors: Map<string, HostTensor>) => tensors.get('shared.weight')!;
    const withCopies = checkpointWith('orig', (tensors) => {
      tensors.set('encoder.embed_tokens.weight', { shape: shared(tensors).shape, data: shared(tensors).data.slice() });
      tensors.set('decoder.embed_tokens.weight', { shape: shared(tensors).shape, data: shared(tensors).data.slice() });
    });
    const model = loadT5Model(withCopies);
    expect(model.parameters.has('encoder.embed_tokens.weight')).toBe(false);
    model.dispose();

    const differing = checkpointWith('orig', (tensors) => {
      const data = shared(tensors).data.slice();
      data[7] += 1;
      tensors.set('decoder.embed_tokens.weight', { shape: shared(tensors).shape, data });
    });
    const error = loadError(differing);
    expect(error.location.key).toBe('decoder.embed_tokens.weight');
    expect(error.message).toContain('differs from shared.weight');
  });

  test('nothing is left allocated by a failed load', () => {
    const directory = checkpointWith('v1_1', (tensors) => tensors.delete(name));
    const before = tf.memory().numTensors;
    loadError(directory);
    expect(tf.memory().numTensors).toBe(before);
  });
});
