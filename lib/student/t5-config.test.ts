import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { parseT5Config, presetConfig, readT5Config, t5ConfigToJson, T5_PRESETS, type T5Config } from './t5-config';

const configFile = (variant: string): string => path.join(DATA_ROOT, 't5-reference', variant, 'config.json');

function errorOf(action: () => unknown): ZsdError {
  try {
    action();
  } catch (error) {
    if (error instanceof ZsdError) return error;
    throw error;
  }
  throw new Error('expected a ZsdError, but nothing was thrown');
}

/** The config fields without `raw`, for comparing configs. */
function fieldsOf(config: T5Config): Omit<T5Config, 'raw'> {
  const { raw: _raw, ...fields } = config;
  return fields;
}

describe('readT5Config on the reference checkpoints transformers 5 saved', () => {
  it('reads v1_1: gated-gelu means gelu_new; tied (no lm_head tensor) yet not scaled', () => {
    const config = readT5Config(configFile('v1_1'));
    expect(fieldsOf(config)).toEqual({
      vocabSize: 32128,
      dModel: 32,
      dKv: 8,
      dFf: 64,
      numLayers: 2,
      numDecoderLayers: 2,
      numHeads: 4,
      relativeAttentionNumBuckets: 32,
      relativeAttentionMaxDistance: 128,
      dropoutRate: 0,
      layerNormEpsilon: 1e-6,
      feedForwardProj: 'gated-gelu',
      isGatedAct: true,
      denseActFn: 'gelu_new',
      tieWordEmbeddings: true,
      scaleDecoderOutputs: false,
      decoderStartTokenId: 0,
      padTokenId: 0,
      eosTokenId: 1,
    });
    expect(config.raw.transformers_version).toBe('5.18.0');
  });

  it('reads orig: relu, 3 encoder and 2 decoder layers, tied and scaled', () => {
    const config = readT5Config(configFile('orig'));
    expect(config).toMatchObject({
      dModel: 48,
      dKv: 12,
      dFf: 96,
      numLayers: 3,
      numDecoderLayers: 2,
      numHeads: 4,
      feedForwardProj: 'relu',
      isGatedAct: false,
      denseActFn: 'relu',
      tieWordEmbeddings: true,
      scaleDecoderOutputs: true,
    });
  });

  it('writes back what it read plus its own fields, in sorted keys, and reads that back the same', () => {
    for (const variant of ['v1_1', 'orig']) {
      const original = JSON.parse(fs.readFileSync(configFile(variant), 'utf8'));
      const config = readT5Config(configFile(variant));
      const json = t5ConfigToJson(config);
      expect(json).toEqual(original); // transformers 5 already writes every field we write
      expect(Object.keys(json)).toEqual(Object.keys(json).sort());
      const file = path.join(temporaryDirectory(), 'config.json');
      fs.writeFileSync(file, JSON.stringify(json));
      expect(fieldsOf(readT5Config(file))).toEqual(fieldsOf(config));
    }
  });
});

describe('parseT5Config defaults and derived fields', () => {
  it("takes transformers' defaults for everything absent", () => {
    expect(fieldsOf(parseT5Config({}, 'config.json'))).toEqual({
      vocabSize: 32128,
      dModel: 512,
      dKv: 64,
      dFf: 2048,
      numLayers: 6,
      numDecoderLayers: 6,
      numHeads: 8,
      relativeAttentionNumBuckets: 32,
      relativeAttentionMaxDistance: 128,
      dropoutRate: 0.1,
      layerNormEpsilon: 1e-6,
      feedForwardProj: 'relu',
      isGatedAct: false,
      denseActFn: 'relu',
      tieWordEmbeddings: true,
      scaleDecoderOutputs: true,
      decoderStartTokenId: 0,
      padTokenId: 0,
      eosTokenId: 1,
    });
  });

  it('num_decoder_layers follows num_layers when absent or null', () => {
    expect(parseT5Config({ num_layers: 3 }, 'c').numDecoderLayers).toBe(3);
    expect(parseT5Config({ num_layers: 3, num_decoder_layers: null }, 'c').numDecoderLayers).toBe(3);
    expect(parseT5Config({ num_layers: 3, num_decoder_layers: 1 }, 'c').numDecoderLayers).toBe(1);
  });

  it('maps feed_forward_proj as transformers does', () => {
    const of = (feedForwardProj: string) => {
      const config = parseT5Config({ feed_forward_proj: feedForwardProj }, 'c');
      return [config.isGatedAct, config.denseActFn];
    };
    expect(of('relu')).toEqual([false, 'relu']);
    expect(of('gated-gelu')).toEqual([true, 'gelu_new']);
    expect(of('gelu')).toEqual([false, 'gelu']); // only the gated form is special-cased
    expect(of('gated-silu')).toEqual([true, 'silu']);
    expect(of('gated-relu')).toEqual([true, 'relu']);
    expect(of('gated-gelu_new')).toEqual([true, 'gelu_new']);
  });

  it('scale_decoder_outputs, when absent, follows tie_word_embeddings (transformers 4 files)', () => {
    expect(parseT5Config({ tie_word_embeddings: false }, 'c')).toMatchObject({ tieWordEmbeddings: false, scaleDecoderOutputs: false });
    expect(parseT5Config({ tie_word_embeddings: true }, 'c')).toMatchObject({ tieWordEmbeddings: true, scaleDecoderOutputs: true });
    expect(parseT5Config({ tie_word_embeddings: true, scale_decoder_outputs: false }, 'c').scaleDecoderOutputs).toBe(false);
    expect(parseT5Config({ tie_word_embeddings: false, scale_decoder_outputs: true }, 'c').scaleDecoderOutputs).toBe(true);
  });

  it('allows num_heads * d_kv to differ from d_model (t5-efficient, v1_1-small)', () => {
    expect(parseT5Config({ d_model: 512, num_heads: 6, d_kv: 64 }, 'c')).toMatchObject({ dModel: 512, numHeads: 6, dKv: 64 });
  });

  it('takes the first of a list of eos token ids and keeps the list when writing back', () => {
    const config = parseT5Config({ eos_token_id: [1, 5] }, 'c');
    expect(config.eosTokenId).toBe(1);
    expect(t5ConfigToJson(config).eos_token_id).toEqual([1, 5]);
    expect(t5ConfigToJson({ ...config, eosTokenId: 2 }).eos_token_id).toBe(2);
  });

  it('keeps unknown keys and accepts consistent dense_act_fn / is_gated_act', () => {
    const config = parseT5Config(
      { feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu_new', is_gated_act: true, n_positions: 512, task_specific_params: { a: 1 } },
      'c',
    );
    expect(t5ConfigToJson(config)).toMatchObject({
      n_positions: 512,
      task_specific_params: { a: 1 },
      model_type: 't5',
      architectures: ['T5ForConditionalGeneration'],
    });
  });

  it('writes edited fields over the raw ones', () => {
    const config = readT5Config(configFile('orig'));
    const json = t5ConfigToJson({ ...config, dModel: 64, tieWordEmbeddings: false, scaleDecoderOutputs: false });
    expect(json).toMatchObject({ d_model: 64, tie_word_embeddings: false, scale_decoder_outputs: false, transformers_version: '5.18.0' });
  });
});

describe('parseT5Config errors name the file and key and say what was expected', () => {
  function expectInvalid(json: unknown, key: string | undefined, fragment: string): void {
    const error = errorOf(() => parseT5Config(json, 'run/config.json'));
    expect(error.kind).toBe('invalid-file');
    expect(error.location).toEqual(key === undefined ? { file: 'run/config.json' } : { file: 'run/config.json', key });
    expect(error.message).toContain('run/config.json');
    if (key !== undefined) expect(error.message).toContain(`key ${key}`);
    expect(error.message).toContain(fragment);
  }

  it.each([
    ['gated-foo', 'unknown activation "foo"'],
    ['a-b-c', 'not of the form "<act>" or "gated-<act>"'],
    ['relu-gated', 'not of the form'],
    ['foo', 'unknown activation "foo"'],
    ['gated-', 'unknown activation ""'],
    ['', 'unknown activation ""'],
  ])('feed_forward_proj %j', (feedForwardProj, fragment) => {
    expectInvalid({ feed_forward_proj: feedForwardProj }, 'feed_forward_proj', fragment);
    expectInvalid({ feed_forward_proj: feedForwardProj }, 'feed_forward_proj', 'expected "<act>" or "gated-<act>" with <act> one of relu, gelu, gelu_new');
  });

  it.each([
    ['d_model', 0],
    ['d_model', -1],
    ['d_kv', 3.5],
    ['num_heads', '8'],
    ['num_layers', 0],
    ['num_decoder_layers', 0],
    ['vocab_size', null],
    ['d_ff', -2048],
    ['relative_attention_num_buckets', 0],
  ])('%s = %j is not a positive integer', (key, value) => {
    expectInvalid({ [key]: value }, key, `is ${JSON.stringify(value)}; expected a positive integer`);
  });

  it('other bad values', () => {
    expectInvalid({ dropout_rate: 1 }, 'dropout_rate', 'expected a probability in [0, 1)');
    expectInvalid({ layer_norm_epsilon: 0 }, 'layer_norm_epsilon', 'expected a positive number');
    expectInvalid({ tie_word_embeddings: 'yes' }, 'tie_word_embeddings', 'expected true or false');
    expectInvalid({ pad_token_id: -1 }, 'pad_token_id', 'expected a non-negative integer token id');
    expectInvalid({ eos_token_id: [] }, 'eos_token_id', 'is []; expected a non-empty list of token ids');
    expectInvalid({ eos_token_id: 'x' }, 'eos_token_id', 'expected a non-negative integer token id (or a non-empty list of them)');
    expectInvalid({ model_type: 'bart' }, 'model_type', 'expected "t5"');
    expectInvalid([], undefined, 'expected a JSON object');
  });

  it('dense_act_fn or is_gated_act that contradict feed_forward_proj', () => {
    expectInvalid(
      { feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu' },
      'dense_act_fn',
      'disagrees with feed_forward_proj "gated-gelu", which means gelu_new',
    );
    expectInvalid({ feed_forward_proj: 'relu', is_gated_act: true }, 'is_gated_act', 'expected false');
  });

  it('readT5Config: a missing file and a file that is not JSON', () => {
    const directory = temporaryDirectory();
    const missing = errorOf(() => readT5Config(path.join(directory, 'config.json')));
    expect(missing.kind).toBe('not-found');
    expect(missing.location.file).toBe(path.join(directory, 'config.json'));
    const file = path.join(directory, 'broken.json');
    fs.writeFileSync(file, '{"d_model": 512,');
    const broken = errorOf(() => readT5Config(file));
    expect(broken.kind).toBe('invalid-file');
    expect(broken.message).toContain(`${file}: not valid JSON`);
    fs.writeFileSync(file, '{"d_model": 0}');
    expect(errorOf(() => readT5Config(file)).location).toEqual({ file, key: 'd_model' });
  });
});

describe('presets', () => {
  it('has the named sizes', () => {
    const pick = (c: T5Config) => [
      c.vocabSize,
      c.dModel,
      c.dKv,
      c.numHeads,
      c.dFf,
      c.numLayers,
      c.numDecoderLayers,
      c.feedForwardProj,
      c.tieWordEmbeddings,
      c.scaleDecoderOutputs,
    ];
    expect(pick(presetConfig('t5-efficient-tiny'))).toEqual([32128, 256, 32, 4, 1024, 4, 4, 'relu', true, true]);
    expect(pick(presetConfig('t5-small'))).toEqual([32128, 512, 64, 8, 2048, 6, 6, 'relu', true, true]);
    expect(pick(presetConfig('t5-v1_1-small'))).toEqual([32128, 512, 64, 6, 1024, 8, 8, 'gated-gelu', false, false]);
    expect(pick(presetConfig('zsd-bench'))).toEqual([32128, 256, 64, 4, 1024, 4, 4, 'gated-gelu', false, false]);
    expect(presetConfig('zsd-bench')).toMatchObject({ isGatedAct: true, denseActFn: 'gelu_new', dropoutRate: 0.1, layerNormEpsilon: 1e-6 });
    expect(pick(presetConfig('zsd-scratch'))).toEqual([32128, 128, 32, 4, 512, 2, 2, 'gated-gelu', true, true]);
    expect(Object.keys(T5_PRESETS).sort()).toEqual(['t5-efficient-tiny', 't5-small', 't5-v1_1-small', 'zsd-bench', 'zsd-scratch']);
  });

  it('applies overrides, validates them, and the decoder follows numLayers unless given', () => {
    const config = presetConfig('t5-small', { numLayers: 2, vocabSize: 100, dropoutRate: 0, feedForwardProj: 'gated-silu' });
    expect(config).toMatchObject({ numLayers: 2, numDecoderLayers: 2, vocabSize: 100, dropoutRate: 0, isGatedAct: true, denseActFn: 'silu', dModel: 512 });
    expect(presetConfig('t5-small', { numLayers: 2, numDecoderLayers: 1 }).numDecoderLayers).toBe(1);
    expect(presetConfig('t5-small', { dModel: undefined }).dModel).toBe(512);
    const bad = errorOf(() => presetConfig('zsd-bench', { dModel: 0 }));
    expect(bad.location).toEqual({ file: 'T5 preset zsd-bench', key: 'd_model' });
    expect(errorOf(() => presetConfig('t5-huge')).message).toContain('unknown T5 preset "t5-huge"; expected one of t5-efficient-tiny');
  });

  it('writes a preset as a full config.json that reads back the same', () => {
    const config = presetConfig('zsd-bench');
    const json = t5ConfigToJson(config);
    expect(json).toMatchObject({
      d_model: 256,
      num_decoder_layers: 4,
      dense_act_fn: 'gelu_new',
      is_gated_act: true,
      tie_word_embeddings: false,
      scale_decoder_outputs: false,
    });
    expect(fieldsOf(parseT5Config(json, 'c'))).toEqual(fieldsOf(config));
  });
});
