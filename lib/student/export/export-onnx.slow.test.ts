/** @jest-environment ./lib/test-support/host-typed-arrays-environment.js */
// The exported graphs run by onnxruntime-node (the runtime transformers.js uses in Node): encoder states and logits
// against PyTorch's reference and zsd's own forward pass, step-by-step decoding with the cache against the full
// pass, and the configurations the export refuses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { isZsdError, type ZsdError } from '../../core/errors';
import { nativeBackendInstalled } from '../../test-support/backends';
import { DATA_ROOT, listFiles, temporaryDirectory } from '../../test-support/fixtures';
import { initBackend } from '../backend';
import { readModelReference, type ModelReference } from '../check-model';
import { PREPROCESSING_FILE } from '../checkpoints';
import { presetConfig, type T5Config } from '../t5-config';
import { shiftRight, T5Model } from '../t5-model';
import { loadT5Model, saveT5Model } from '../t5-weights';
import { EXPORTED_FILES, exportOnnx } from './export-onnx';
import { pastKeyValueNames, quantizeInt8 } from './t5-onnx-graphs';

const REFERENCE = path.join(DATA_ROOT, 't5-reference');

// The ONNX side does not depend on zsd's backend, and zsd's parity on wasm is check-model's test: where jest runs
// the student tests a second time pinned to wasm (native backend installed), these run only the first time.
const describeOnce = process.env.ZSD_BACKEND === 'wasm' && nativeBackendInstalled() ? describe.skip : describe;

beforeAll(async () => {
  await initBackend();
});

function int64Tensor(rows: number[][]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(rows.flat(), (value) => BigInt(value)),
    [rows.length, rows[0].length],
  );
}

interface OnnxT5 {
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
  config: T5Config;
}

async function loadSessions(directory: string, config: T5Config, quantized = false): Promise<OnnxT5> {
  const [encoder, decoder] = await Promise.all(
    [quantized ? EXPORTED_FILES.encoderQuantized : EXPORTED_FILES.encoder, quantized ? EXPORTED_FILES.decoderQuantized : EXPORTED_FILES.decoder].map((file) =>
      ort.InferenceSession.create(path.join(directory, file)),
    ),
  );
  return { encoder, decoder, config };
}

async function encode(model: OnnxT5, inputIds: number[][], attentionMask: number[][]): Promise<ort.Tensor> {
  const output = await model.encoder.run({ input_ids: int64Tensor(inputIds), attention_mask: int64Tensor(attentionMask) });
  return output.last_hidden_state;
}

/** One decoder call as transformers.js makes it: empty past tensors and use_cache_branch false on the first. */
async function decode(
  model: OnnxT5,
  encoderHidden: ort.Tensor,
  attentionMask: number[][],
  tokens: number[][],
  past?: Record<string, ort.Tensor>,
): Promise<{ logits: ort.Tensor; present: Record<string, ort.Tensor> }> {
  const { config } = model;
  const feeds: Record<string, ort.Tensor> = {
    encoder_attention_mask: int64Tensor(attentionMask),
    input_ids: int64Tensor(tokens),
    encoder_hidden_states: encoderHidden,
    use_cache_branch: new ort.Tensor('bool', [past !== undefined], [1]),
  };
  const pastNames = pastKeyValueNames(config, 'past_key_values');
  const presentNames = pastKeyValueNames(config, 'present');
  pastNames.forEach((name, index) => {
    feeds[name] = past?.[presentNames[index]] ?? new ort.Tensor('float32', new Float32Array(0), [tokens.length, config.numHeads, 0, config.dKv]);
  });
  const output = await model.decoder.run(feeds);
  return { logits: output.logits, present: Object.fromEntries(presentNames.map((name) => [name, output[name]])) };
}

/** zsd's logits [b, t, V] for decoder inputs = labels shifted right. */
function zsdLogits(model: T5Model, inputIds: number[][], attentionMask: number[][], decoderInputIds: number[][]): Float32Array {
  const output = model.forward({
    inputIds: tf.tensor2d(inputIds, undefined, 'int32'),
    attentionMask: tf.tensor2d(attentionMask, undefined, 'int32'),
    decoderInputIds: tf.tensor2d(decoderInputIds, undefined, 'int32'),
  });
  const logits = output.logits.dataSync() as Float32Array;
  tf.dispose(output);
  return logits;
}

function maxAbsoluteDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function argmaxRows(values: Float32Array, vocab: number): number[] {
  const rows: number[] = [];
  for (let offset = 0; offset < values.length; offset += vocab) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if (values[offset + v] > values[offset + best]) best = v;
    rows.push(best);
  }
  return rows;
}

/** A small random student saved by zsd's checkpoint writer: untied lm_head, erf gelu, more encoder than decoder layers. */
function randomStudent(directory: string): string {
  const config = presetConfig('zsd-scratch', {
    dModel: 32,
    dKv: 8,
    numHeads: 4,
    dFf: 48,
    numLayers: 2,
    numDecoderLayers: 1,
    feedForwardProj: 'gelu',
    tieWordEmbeddings: false,
    dropoutRate: 0,
  });
  const model = T5Model.randomInit(config, 18);
  saveT5Model(model, directory);
  model.dispose();
  fs.writeFileSync(
    path.join(directory, PREPROCESSING_FILE),
    JSON.stringify({ formatVersion: 1, task: 'svamp', inputPrefix: 'predict: ', numberMapping: false }),
  );
  return directory;
}

function referenceLikeBatch(): ModelReference {
  return readModelReference(path.join(REFERENCE, 'orig', 'reference.json'));
}

describeOnce.each([
  ['orig', () => path.join(REFERENCE, 'orig')],
  ['v1_1', () => path.join(REFERENCE, 'v1_1')],
  ['random zsd student', () => randomStudent(temporaryDirectory('zsd-export-student-'))],
])('the %s checkpoint exported to ONNX, run by onnxruntime-node', (variant, checkpointDirectory) => {
  let checkpoint: string;
  let onnx: OnnxT5;
  let zsd: T5Model;
  let reference: ModelReference;

  beforeAll(async () => {
    checkpoint = checkpointDirectory();
    const out = path.join(temporaryDirectory('zsd-export-'), 'onnx-model');
    const result = exportOnnx({ model: checkpoint, out, dataRoot: DATA_ROOT });
    expect(result.files.map((file) => file.path).sort()).toEqual(
      ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', EXPORTED_FILES.encoder, EXPORTED_FILES.decoder].sort(),
    );
    onnx = await loadSessions(out, result.config);
    zsd = loadT5Model(checkpoint);
    const referenceFile = path.join(checkpoint, 'reference.json');
    reference = fs.existsSync(referenceFile) ? readModelReference(referenceFile) : referenceLikeBatch();
  });

  afterAll(() => zsd.dispose());

  test('inputs and outputs are named as transformers.js and optimum name them', () => {
    const pastNames = pastKeyValueNames(onnx.config, 'past_key_values');
    expect(onnx.encoder.inputNames).toEqual(['input_ids', 'attention_mask']);
    expect(onnx.encoder.outputNames).toEqual(['last_hidden_state']);
    expect(onnx.decoder.inputNames).toEqual(['encoder_attention_mask', 'input_ids', 'encoder_hidden_states', ...pastNames, 'use_cache_branch']);
    expect(onnx.decoder.outputNames).toEqual(['logits', ...pastKeyValueNames(onnx.config, 'present')]);
    expect(pastNames.slice(0, 4)).toEqual([
      'past_key_values.0.decoder.key',
      'past_key_values.0.decoder.value',
      'past_key_values.0.encoder.key',
      'past_key_values.0.encoder.value',
    ]);
  });

  test('encoder states and logits match zsd (whole vocabulary) and PyTorch (reference) within 1e-4', async () => {
    const { input_ids: inputIds, attention_mask: attentionMask } = reference;
    const decoderInputIds = shiftRight(reference.labels, onnx.config.decoderStartTokenId, onnx.config.padTokenId);
    const hidden = await encode(onnx, inputIds, attentionMask);
    const { logits } = await decode(onnx, hidden, attentionMask, decoderInputIds);
    const onnxLogits = logits.data as Float32Array;
    const vocab = onnx.config.vocabSize;
    expect(logits.dims).toEqual([inputIds.length, decoderInputIds[0].length, vocab]);

    const expected = zsdLogits(zsd, inputIds, attentionMask, decoderInputIds);
    expect(maxAbsoluteDifference(onnxLogits, expected)).toBeLessThanOrEqual(1e-4);
    expect(argmaxRows(onnxLogits, vocab)).toEqual(argmaxRows(expected, vocab));
    const zsdHidden = tf.tidy(() => zsd.encode(tf.tensor2d(inputIds, undefined, 'int32'), tf.tensor2d(attentionMask, undefined, 'int32')).dataSync());
    expect(maxAbsoluteDifference(hidden.data as Float32Array, zsdHidden)).toBeLessThanOrEqual(1e-4);

    if (variant !== 'random zsd student') {
      expect(maxAbsoluteDifference(hidden.data as Float32Array, reference.encoder_last_hidden_state.flat(2))).toBeLessThanOrEqual(1e-4);
      const [batch, length] = [inputIds.length, decoderInputIds[0].length];
      const firstEntries: number[] = [];
      for (let b = 0; b < batch; b++)
        for (let t = 0; t < length; t++) firstEntries.push(...onnxLogits.subarray((b * length + t) * vocab, (b * length + t) * vocab + 16));
      expect(maxAbsoluteDifference(firstEntries, reference.logits.flat(2))).toBeLessThanOrEqual(1e-4);
      expect(argmaxRows(onnxLogits, vocab)).toEqual(reference.logits_argmax.flat());
    }
  });

  test("decoding one token at a time through the cache (use_cache_branch) gives the full pass's logits", async () => {
    const { input_ids: inputIds, attention_mask: attentionMask } = reference;
    const decoderInputIds = shiftRight(reference.labels, onnx.config.decoderStartTokenId, onnx.config.padTokenId);
    const hidden = await encode(onnx, inputIds, attentionMask);
    const full = (await decode(onnx, hidden, attentionMask, decoderInputIds)).logits.data as Float32Array;
    const vocab = onnx.config.vocabSize;
    const length = decoderInputIds[0].length;
    let past: Record<string, ort.Tensor> | undefined;
    let worst = 0;
    for (let t = 0; t < length; t++) {
      const step = await decode(
        onnx,
        hidden,
        attentionMask,
        decoderInputIds.map((row) => [row[t]]),
        past,
      );
      expect(step.present['present.0.decoder.key'].dims).toEqual([inputIds.length, onnx.config.numHeads, t + 1, onnx.config.dKv]);
      expect(step.present['present.0.encoder.key'].dims).toEqual([inputIds.length, onnx.config.numHeads, inputIds[0].length, onnx.config.dKv]);
      const stepLogits = step.logits.data as Float32Array;
      for (let b = 0; b < inputIds.length; b++) {
        const expected = full.subarray((b * length + t) * vocab, (b * length + t + 1) * vocab);
        worst = Math.max(worst, maxAbsoluteDifference(stepLogits.subarray(b * vocab, (b + 1) * vocab), expected));
      }
      past = step.present;
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});

describeOnce('int8 weights (--quantize)', () => {
  test('quantizeInt8 keeps every weight within half a step of its channel scale', () => {
    const values = Float32Array.from([0.5, -1, 0.25, 0, 0, 0, 3, 2, -1.5]);
    const { quantized, scales } = quantizeInt8(values, 3, 3, 0);
    expect(Array.from(scales)).toEqual([1 / 127, 1, 3 / 127].map(Math.fround));
    expect(Array.from(quantized.subarray(0, 3))).toEqual([64, -127, 32]);
    expect(Array.from(quantized.subarray(3, 6))).toEqual([0, 0, 0]);
    values.forEach((value, index) =>
      expect(Math.abs(quantized[index] * scales[Math.floor(index / 3)] - value)).toBeLessThanOrEqual(scales[Math.floor(index / 3)] / 2 + 1e-7),
    );
    const byColumn = quantizeInt8(values, 3, 3, 1);
    expect(byColumn.scales.length).toBe(3);
    expect(byColumn.quantized[6]).toBe(127);
  });

  test('the quantized graphs are a quarter of the size and their logits stay close to float32', async () => {
    const checkpoint = randomStudent(temporaryDirectory('zsd-export-student-'));
    const out = path.join(temporaryDirectory('zsd-export-'), 'quantized');
    const result = exportOnnx({ model: checkpoint, out, dataRoot: DATA_ROOT, quantize: true });
    const size = (name: string) => result.files.find((file) => file.path === name)!.bytes;
    expect(size(EXPORTED_FILES.decoderQuantized)).toBeLessThan(size(EXPORTED_FILES.decoder) * 0.3);
    expect(size(EXPORTED_FILES.encoderQuantized)).toBeLessThan(size(EXPORTED_FILES.encoder) * 0.3);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))['transformers.js_config']).toBeUndefined();

    const reference = referenceLikeBatch();
    const decoderInputIds = shiftRight(reference.labels, 0, 0);
    const logitsOf = async (quantized: boolean) => {
      const model = await loadSessions(out, result.config, quantized);
      const hidden = await encode(model, reference.input_ids, reference.attention_mask);
      return (await decode(model, hidden, reference.attention_mask, decoderInputIds)).logits.data as Float32Array;
    };
    const float = await logitsOf(false);
    const int8 = await logitsOf(true);
    const largest = float.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
    const difference = maxAbsoluteDifference(int8, float);
    expect(difference).toBeGreaterThan(0); // it is another graph
    expect(difference).toBeLessThan(0.05 * largest);
  });
});

describeOnce('what the export refuses, naming the field', () => {
  function checkpointWith(edit: (config: Record<string, unknown>) => void, preprocessing?: object): string {
    const directory = temporaryDirectory('zsd-export-bad-');
    fs.symlinkSync(path.join(REFERENCE, 'orig', 'model.safetensors'), path.join(directory, 'model.safetensors'));
    const config = JSON.parse(fs.readFileSync(path.join(REFERENCE, 'orig', 'config.json'), 'utf8')) as Record<string, unknown>;
    edit(config);
    fs.writeFileSync(path.join(directory, 'config.json'), JSON.stringify(config));
    if (preprocessing) fs.writeFileSync(path.join(directory, PREPROCESSING_FILE), JSON.stringify(preprocessing));
    return directory;
  }

  function exportError(checkpoint: string, out = path.join(temporaryDirectory('zsd-export-'), 'out')): ZsdError {
    let caught: unknown;
    try {
      exportOnnx({ model: checkpoint, out, dataRoot: DATA_ROOT });
    } catch (error) {
      caught = error;
    }
    expect(isZsdError(caught)).toBe(true);
    expect(fs.existsSync(out) ? listFiles(out) : []).toEqual([]); // nothing half-written
    expect(fs.readdirSync(path.dirname(out)).filter((name) => name.includes('partial'))).toEqual([]);
    return caught as ZsdError;
  }

  test.each([
    ['is_encoder_decoder', (config: Record<string, unknown>) => (config.is_encoder_decoder = false)],
    ['relative_attention_max_distance', (config: Record<string, unknown>) => (config.relative_attention_max_distance = 8)],
    ['feed_forward_proj', (config: Record<string, unknown>) => (config.feed_forward_proj = 'gated-mish')],
  ])('a config with an unsupported %s', (key, edit) => {
    const error = exportError(checkpointWith(edit));
    expect(error.location.key).toBe(key);
    expect(error.location.file).toMatch(/config\.json$/);
    expect(error.message).toContain(key);
  });

  test('a student trained with number mapping (transformers.js cannot map numbers), unless allowed', () => {
    const checkpoint = checkpointWith(() => {}, { formatVersion: 1, task: 'svamp', inputPrefix: 'explain: ', numberMapping: true });
    const error = exportError(checkpoint);
    expect(error.location).toEqual({ file: expect.stringMatching(/preprocessing\.json$/), key: 'numberMapping' });
    expect(error.message).toContain('--allow-number-mapping');

    const out = path.join(temporaryDirectory('zsd-export-'), 'out');
    const result = exportOnnx({ model: checkpoint, out, dataRoot: DATA_ROOT, allowNumberMapping: true });
    expect(result.numberMapping).toBe(true);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect([config.zsd_number_mapping, config.prefix, config['transformers.js_config']]).toEqual([true, 'explain: ', { dtype: 'fp32' }]);
  });

  test('a non-empty output folder: refused without --overwrite, and with it unless an earlier export', () => {
    const out = temporaryDirectory('zsd-export-used-');
    fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
    expect(() => exportOnnx({ model: path.join(REFERENCE, 'v1_1'), out, dataRoot: DATA_ROOT })).toThrow(/not empty.*--overwrite/);
    expect(() => exportOnnx({ model: path.join(REFERENCE, 'v1_1'), out, dataRoot: DATA_ROOT, overwrite: true })).toThrow(/not an exported model/);
    expect(listFiles(out)).toEqual(['notes.txt']);

    const previous = path.join(out, 'exported');
    exportOnnx({ model: path.join(REFERENCE, 'v1_1'), out: previous, dataRoot: DATA_ROOT });
    fs.writeFileSync(path.join(previous, 'stale.txt'), 'from before');
    exportOnnx({ model: path.join(REFERENCE, 'v1_1'), out: previous, dataRoot: DATA_ROOT, overwrite: true });
    expect(listFiles(previous)).not.toContain('stale.txt'); // replaced as a whole
    expect(listFiles(previous)).toContain(EXPORTED_FILES.encoder);
  });
});
