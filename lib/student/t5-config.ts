import * as fs from 'node:fs';
import { z } from 'zod';
import { ZsdError } from '../core/errors';

/**
 * A Hugging Face T5 `config.json`, read with transformers' defaults and validated at the edge.
 *
 * Two transformers details matter for the numerics:
 * - `feed_forward_proj` is "<act>" or "gated-<act>"; "gated-gelu" means gelu_new (the tanh approximation), a
 *   special case transformers keeps for T5 v1.1 checkpoints.
 * - Whether the decoder output is scaled by d_model^-0.5 before the lm_head. transformers >= 5 writes
 *   `scale_decoder_outputs` (and always ties the lm_head, writing tie_word_embeddings true); older versions wrote no
 *   such key and scaled exactly when `tie_word_embeddings` was true, so an absent key means the tie flag.
 */

/** The activations the student implements; `feed_forward_proj` must name one of them. */
export const T5_ACTIVATIONS = ['relu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'silu', 'swish'] as const;
export type T5Activation = (typeof T5_ACTIVATIONS)[number];

export interface T5Config {
  vocabSize: number;
  dModel: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  dropoutRate: number;
  layerNormEpsilon: number;
  /** As written, e.g. "relu" or "gated-gelu". */
  feedForwardProj: string;
  /** feedForwardProj is "gated-<act>": wi_0 (activated) times wi_1. */
  isGatedAct: boolean;
  /** The activation feedForwardProj names ("gated-gelu" -> gelu_new). */
  denseActFn: T5Activation;
  /** lm_head shares shared.weight (no lm_head.weight tensor). Default true. */
  tieWordEmbeddings: boolean;
  /** Scale the decoder output by dModel^-0.5 before the lm_head; when the file does not say, tieWordEmbeddings. */
  scaleDecoderOutputs: boolean;
  decoderStartTokenId: number;
  padTokenId: number;
  eosTokenId: number;
  /** Everything the file held, so that saving writes back what was read plus these fields. */
  raw: Record<string, unknown>;
}

/** The fields a preset or a caller may set; the derived ones (isGatedAct, denseActFn) follow feedForwardProj. */
export type T5ConfigOverrides = Partial<Omit<T5Config, 'raw' | 'isGatedAct' | 'denseActFn'>>;

/** transformers' T5Config defaults (num_decoder_layers: num_layers; decoder_start_token_id: pad, 0). */
export const T5_DEFAULTS = {
  vocab_size: 32128,
  d_model: 512,
  d_kv: 64,
  d_ff: 2048,
  num_layers: 6,
  num_heads: 8,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  dropout_rate: 0.1,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'relu',
  tie_word_embeddings: true,
  decoder_start_token_id: 0,
  pad_token_id: 0,
  eos_token_id: 1,
} as const;

/**
 * Named sizes for random initialisation, as their Hugging Face configs have them (vocab 32128 throughout).
 * The decoder has as many layers as the encoder unless numDecoderLayers is given, so overriding numLayers resizes both.
 */
export const T5_PRESETS: Record<string, T5ConfigOverrides> = {
  't5-efficient-tiny': { dModel: 256, dKv: 32, numHeads: 4, dFf: 1024, numLayers: 4, feedForwardProj: 'relu' },
  't5-small': { dModel: 512, dKv: 64, numHeads: 8, dFf: 2048, numLayers: 6, feedForwardProj: 'relu' },
  't5-v1_1-small': { dModel: 512, dKv: 64, numHeads: 6, dFf: 1024, numLayers: 8, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false },
  // A student small enough to train from scratch on 2 CPU cores in minutes (the README's svamp experiment).
  'zsd-scratch': { dModel: 128, dKv: 32, numHeads: 4, dFf: 512, numLayers: 2, feedForwardProj: 'gated-gelu' },
  'zsd-bench': { vocabSize: 32128, dModel: 256, dKv: 64, numHeads: 4, dFf: 1024, numLayers: 4, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false },
};

const positiveInteger = z.int({ error: 'expected a positive integer' }).positive({ error: 'expected a positive integer' });
const tokenId = z.int({ error: 'expected a non-negative integer token id' }).nonnegative({ error: 'expected a non-negative integer token id' });

const configSchema = z.looseObject({
  model_type: z.enum(['t5', 'mt5'], { error: 'expected "t5" (or "mt5", the same architecture)' }).optional(),
  vocab_size: positiveInteger.default(T5_DEFAULTS.vocab_size),
  d_model: positiveInteger.default(T5_DEFAULTS.d_model),
  d_kv: positiveInteger.default(T5_DEFAULTS.d_kv),
  d_ff: positiveInteger.default(T5_DEFAULTS.d_ff),
  num_layers: positiveInteger.default(T5_DEFAULTS.num_layers),
  num_decoder_layers: positiveInteger.nullish(),
  num_heads: positiveInteger.default(T5_DEFAULTS.num_heads),
  relative_attention_num_buckets: positiveInteger.default(T5_DEFAULTS.relative_attention_num_buckets),
  relative_attention_max_distance: positiveInteger.default(T5_DEFAULTS.relative_attention_max_distance),
  dropout_rate: z
    .number({ error: 'expected a probability in [0, 1)' })
    .min(0, { error: 'expected a probability in [0, 1)' })
    .lt(1, { error: 'expected a probability in [0, 1)' })
    .default(T5_DEFAULTS.dropout_rate),
  layer_norm_epsilon: z
    .number({ error: 'expected a positive number' })
    .positive({ error: 'expected a positive number' })
    .default(T5_DEFAULTS.layer_norm_epsilon),
  feed_forward_proj: z.string({ error: 'expected a string such as "relu" or "gated-gelu"' }).default(T5_DEFAULTS.feed_forward_proj),
  dense_act_fn: z.string({ error: 'expected a string' }).optional(),
  is_gated_act: z.boolean({ error: 'expected true or false' }).optional(),
  tie_word_embeddings: z.boolean({ error: 'expected true or false' }).default(T5_DEFAULTS.tie_word_embeddings),
  scale_decoder_outputs: z.boolean({ error: 'expected true or false' }).optional(),
  decoder_start_token_id: tokenId.nullish(),
  pad_token_id: tokenId.nullish(),
  eos_token_id: z
    .union([tokenId, z.array(tokenId).min(1, { error: 'expected a non-empty list of token ids' })], {
      error: 'expected a non-negative integer token id (or a non-empty list of them)',
    })
    .nullish(),
});

export function readT5Config(file: string): T5Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ZsdError('not-found', `cannot read T5 config: ${(error as Error).message}`, { file });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ZsdError('invalid-file', `not valid JSON (${(error as Error).message}); expected a Hugging Face T5 config.json`, { file });
  }
  return parseT5Config(json, file);
}

/** Validates a config.json object; `file` names it in errors. */
export function parseT5Config(json: unknown, file: string): T5Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ZsdError('invalid-file', 'expected a JSON object (a Hugging Face T5 config.json)', { file });
  }
  const raw = json as Record<string, unknown>;
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.map(String).join('.');
    const value = issue.path.reduce<unknown>((node, part) => (node as Record<PropertyKey, unknown> | undefined)?.[part as PropertyKey], raw);
    throw new ZsdError('invalid-file', `is ${JSON.stringify(value) ?? 'missing'}; ${issue.message}`, { file, key: key || undefined });
  }
  const data = parsed.data;
  const { isGatedAct, denseActFn } = parseFeedForwardProj(data.feed_forward_proj, file);
  if (data.dense_act_fn !== undefined && data.dense_act_fn !== denseActFn) {
    throw new ZsdError(
      'invalid-file',
      `"${data.dense_act_fn}" disagrees with feed_forward_proj "${data.feed_forward_proj}", which means ${denseActFn}; expected them to agree (or dense_act_fn left out)`,
      { file, key: 'dense_act_fn' },
    );
  }
  if (data.is_gated_act !== undefined && data.is_gated_act !== isGatedAct) {
    throw new ZsdError(
      'invalid-file',
      `${data.is_gated_act} disagrees with feed_forward_proj "${data.feed_forward_proj}"; expected ${isGatedAct} (or is_gated_act left out)`,
      { file, key: 'is_gated_act' },
    );
  }
  const eos = data.eos_token_id ?? T5_DEFAULTS.eos_token_id;
  return {
    vocabSize: data.vocab_size,
    dModel: data.d_model,
    dKv: data.d_kv,
    dFf: data.d_ff,
    numLayers: data.num_layers,
    numDecoderLayers: data.num_decoder_layers ?? data.num_layers,
    numHeads: data.num_heads,
    relativeAttentionNumBuckets: data.relative_attention_num_buckets,
    relativeAttentionMaxDistance: data.relative_attention_max_distance,
    dropoutRate: data.dropout_rate,
    layerNormEpsilon: data.layer_norm_epsilon,
    feedForwardProj: data.feed_forward_proj,
    isGatedAct,
    denseActFn,
    tieWordEmbeddings: data.tie_word_embeddings,
    scaleDecoderOutputs: data.scale_decoder_outputs ?? data.tie_word_embeddings,
    decoderStartTokenId: data.decoder_start_token_id ?? T5_DEFAULTS.decoder_start_token_id,
    padTokenId: data.pad_token_id ?? T5_DEFAULTS.pad_token_id,
    // transformers allows a list of end tokens; generation stops at the first listed here.
    eosTokenId: Array.isArray(eos) ? eos[0] : eos,
    raw: { ...raw },
  };
}

/** transformers' T5Config rule: "<act>" or "gated-<act>", "gated-gelu" meaning gelu_new; <act> one we implement. */
function parseFeedForwardProj(feedForwardProj: string, file: string): { isGatedAct: boolean; denseActFn: T5Activation } {
  const parts = feedForwardProj.split('-');
  const activation = parts[parts.length - 1];
  const wellFormed = parts.length === 1 || (parts.length === 2 && parts[0] === 'gated');
  if (!wellFormed || !(T5_ACTIVATIONS as readonly string[]).includes(activation)) {
    const problem = wellFormed ? `unknown activation "${activation}"` : 'not of the form "<act>" or "gated-<act>"';
    throw new ZsdError(
      'invalid-file',
      `"${feedForwardProj}": ${problem}; expected "<act>" or "gated-<act>" with <act> one of ${T5_ACTIVATIONS.join(', ')} (e.g. "relu", "gated-gelu")`,
      { file, key: 'feed_forward_proj' },
    );
  }
  return {
    isGatedAct: parts.length === 2,
    denseActFn: feedForwardProj === 'gated-gelu' ? 'gelu_new' : (activation as T5Activation),
  };
}

/**
 * The config.json to save: what was read, with every field of `config` written over it in transformers' names
 * (including the derived dense_act_fn, is_gated_act and scale_decoder_outputs), keys sorted as transformers writes.
 * Note: transformers >= 5 forces tie_word_embeddings to true on load (its T5 always ties the lm_head), and takes
 * scale_decoder_outputs from this file; transformers 4 honours tie_word_embeddings and ignores scale_decoder_outputs.
 */
export function t5ConfigToJson(config: T5Config): Record<string, unknown> {
  const rawEos = config.raw.eos_token_id;
  const fields: Record<string, unknown> = {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    is_encoder_decoder: true,
    ...config.raw,
    vocab_size: config.vocabSize,
    d_model: config.dModel,
    d_kv: config.dKv,
    d_ff: config.dFf,
    num_layers: config.numLayers,
    num_decoder_layers: config.numDecoderLayers,
    num_heads: config.numHeads,
    relative_attention_num_buckets: config.relativeAttentionNumBuckets,
    relative_attention_max_distance: config.relativeAttentionMaxDistance,
    dropout_rate: config.dropoutRate,
    layer_norm_epsilon: config.layerNormEpsilon,
    feed_forward_proj: config.feedForwardProj,
    is_gated_act: config.isGatedAct,
    dense_act_fn: config.denseActFn,
    tie_word_embeddings: config.tieWordEmbeddings,
    scale_decoder_outputs: config.scaleDecoderOutputs,
    decoder_start_token_id: config.decoderStartTokenId,
    pad_token_id: config.padTokenId,
    // A list of end tokens read from the file stays a list while its first entry is still ours.
    eos_token_id: Array.isArray(rawEos) && rawEos[0] === config.eosTokenId ? rawEos : config.eosTokenId,
  };
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(fields).sort()) sorted[key] = fields[key];
  return sorted;
}

/** A named size (T5_PRESETS) with overrides, validated like a config.json. */
export function presetConfig(name: string, overrides: T5ConfigOverrides = {}): T5Config {
  const preset = Object.hasOwn(T5_PRESETS, name) ? T5_PRESETS[name] : undefined;
  if (!preset) {
    throw new ZsdError('usage', `unknown T5 preset "${name}"; expected one of ${Object.keys(T5_PRESETS).join(', ')}`);
  }
  const fields: T5ConfigOverrides = { ...preset };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
  }
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    const snake = SNAKE_CASE[key as keyof T5ConfigOverrides];
    if (snake === undefined) throw new ZsdError('usage', `unknown T5 config field "${key}"; expected one of ${Object.keys(SNAKE_CASE).join(', ')}`);
    json[snake] = value;
  }
  return parseT5Config(json, `T5 preset ${name}`);
}

const SNAKE_CASE: Record<keyof T5ConfigOverrides, string> = {
  vocabSize: 'vocab_size',
  dModel: 'd_model',
  dKv: 'd_kv',
  dFf: 'd_ff',
  numLayers: 'num_layers',
  numDecoderLayers: 'num_decoder_layers',
  numHeads: 'num_heads',
  relativeAttentionNumBuckets: 'relative_attention_num_buckets',
  relativeAttentionMaxDistance: 'relative_attention_max_distance',
  dropoutRate: 'dropout_rate',
  layerNormEpsilon: 'layer_norm_epsilon',
  feedForwardProj: 'feed_forward_proj',
  tieWordEmbeddings: 'tie_word_embeddings',
  scaleDecoderOutputs: 'scale_decoder_outputs',
  decoderStartTokenId: 'decoder_start_token_id',
  padTokenId: 'pad_token_id',
  eosTokenId: 'eos_token_id',
};
