/**
 * `zsd export --format onnx`: a T5 checkpoint as the folder transformers.js loads for text2text-generation
 * (`pipeline('text2text-generation', DIR)`), the layout of optimum's T5 export:
 *
 *   config.json               the checkpoint's T5 config; `prefix` = the task prefix zsd predict puts before inputs;
 *                             `transformers.js_config.dtype` fp32 unless quantized graphs are written;
 *                             `zsd_number_mapping` true for a number-mapping student (--allow-number-mapping)
 *   generation_config.json    decoder start, eos and pad tokens
 *   tokenizer.json            the vocabulary (the checkpoint's own, else the shared T5 one)
 *   tokenizer_config.json     T5Tokenizer settings beside that tokenizer.json, else T5's defaults
 *   onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx                       float32
 *   onnx/encoder_model_quantized.onnx, onnx/decoder_model_merged_quantized.onnx   with --quantize: int8 weights
 *     (what transformers.js loads for dtype 'q8', its default on wasm, i.e. in browsers)
 *
 * The folder is written beside DIR under a temporary name and renamed into place, so DIR is never half-written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../../core/errors';
import { PREPROCESSING_FILE, readCheckpointPreprocessing } from '../checkpoints';
import { readCheckpointTensors } from '../safetensors';
import { readT5Config, t5ConfigToJson, type T5Config } from '../t5-config';
import { checkpointParameters, CONFIG_FILE } from '../t5-weights';
import { loadT5Tokenizer, t5TokenizerFile } from '../tokenizer';
import { onnxModelChunks, type OnnxGraph } from './onnx-protobuf';
import { buildT5DecoderGraph, buildT5EncoderGraph } from './t5-onnx-graphs';

/** ONNX opset and IR version of the exported graphs (onnxruntime 1.14+ reads them). */
export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
/** protobuf's limit for one message; bigger models would need ONNX external data, which the export does not write. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export const EXPORTED_FILES = {
  encoder: 'onnx/encoder_model.onnx',
  decoder: 'onnx/decoder_model_merged.onnx',
  encoderQuantized: 'onnx/encoder_model_quantized.onnx',
  decoderQuantized: 'onnx/decoder_model_merged_quantized.onnx',
} as const;

export interface ExportOnnxOptions {
  /** checkpoint directory: config.json + model.safetensors (or shards) */
  model: string;
  /** the folder to write; must not exist (or be empty) unless overwrite */
  out: string;
  /** also write int8-weight graphs (the *_quantized.onnx files) */
  quantize?: boolean;
  /** tokenizer.json; default the checkpoint's, else <dataRoot>/tokenizers/t5/tokenizer.json */
  tokenizer?: string;
  /** needed when neither tokenizer nor a checkpoint tokenizer.json is given */
  dataRoot?: string;
  /** the task prefix for config.json; default as zsd predict: preprocessing.json's, else "predict: " */
  prefix?: string;
  overwrite?: boolean;
  /**
   * Export a student trained with number mapping anyway: its callers map numbers themselves (n0, n1, ... in the
   * input, back in the output, as number-mapping.ts does); config.json then says `zsd_number_mapping: true`.
   */
  allowNumberMapping?: boolean;
}

export interface ExportedFile {
  path: string;
  bytes: number;
}

export interface ExportOnnxResult {
  out: string;
  config: T5Config;
  prefix: string;
  /** the student expects number-mapped inputs (exported with allowNumberMapping) */
  numberMapping: boolean;
  tokenizer: string;
  files: ExportedFile[];
}

/**
 * Refuses what transformers.js (or the export) cannot run, naming the field: an encoder-only or decoder-only
 * config, and a checkpoint trained with number mapping (zsd rewrites numbers as n0, n1, ... before the model
 * and back after it; transformers.js would feed raw numbers to a model that never saw any).
 */
export function checkExportable(config: T5Config, configFile: string, checkpoint: string, options: { allowNumberMapping?: boolean } = {}): void {
  for (const [key, expected] of [
    ['is_encoder_decoder', true],
    ['is_decoder', false],
  ] as const) {
    const value = config.raw[key];
    if (value !== undefined && value !== expected) {
      throw new ZsdError('invalid-file', `is ${JSON.stringify(value)}; the ONNX export writes an encoder-decoder T5 (expected ${expected} or absent)`, {
        file: configFile,
        key,
      });
    }
  }
  const preprocessing = readCheckpointPreprocessing(checkpoint);
  if (preprocessing?.numberMapping && !options.allowNumberMapping) {
    throw new ZsdError(
      'invalid-file',
      'is true: the student was trained with number mapping (numbers as n0, n1, ...), which zsd predict applies around the model but transformers.js cannot; ' +
        'export a student trained without --number-mapping, or pass --allow-number-mapping and map numbers in your own code',
      { file: path.join(checkpoint, PREPROCESSING_FILE), key: 'numberMapping' },
    );
  }
}

export function exportOnnx(options: ExportOnnxOptions): ExportOnnxResult {
  const checkpoint = path.resolve(options.model);
  if (!fs.existsSync(checkpoint) || !fs.statSync(checkpoint).isDirectory()) throw new ZsdError('not-found', `${checkpoint} is not a checkpoint directory`);
  const out = path.resolve(options.out);
  checkOutput(out, options.overwrite ?? false);

  const configFile = path.join(checkpoint, CONFIG_FILE);
  const config = readT5Config(configFile);
  checkExportable(config, configFile, checkpoint, { allowNumberMapping: options.allowNumberMapping });
  const preprocessing = readCheckpointPreprocessing(checkpoint);
  const { tensors, files } = readCheckpointTensors(checkpoint);
  const parameters = checkpointParameters(config, tensors, files.length === 1 ? files[0] : checkpoint);

  const tokenizerFile = resolveTokenizer(options, checkpoint);
  const tokenizer = loadT5Tokenizer(tokenizerFile);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ZsdError('invalid-file', `the tokenizer has ${tokenizer.vocabSize} entries but the model only ${config.vocabSize} (vocab_size) rows`, {
      file: tokenizerFile,
    });
  }
  const prefix = options.prefix ?? preprocessing?.inputPrefix ?? 'predict: ';

  const staging = `${out}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.join(staging, 'onnx'), { recursive: true });
  try {
    const written: ExportedFile[] = [];
    const writeJson = (name: string, value: unknown) => written.push(writeFile(staging, name, [Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]));
    writeJson('config.json', exportedConfigJson(config, prefix, options.quantize ?? false, preprocessing?.numberMapping ?? false));
    writeJson('generation_config.json', {
      _from_model_config: true,
      decoder_start_token_id: config.decoderStartTokenId,
      eos_token_id: config.eosTokenId,
      pad_token_id: config.padTokenId,
    });
    written.push(writeFile(staging, 'tokenizer.json', [fs.readFileSync(tokenizerFile)]));
    writeJson('tokenizer_config.json', tokenizerConfig(tokenizerFile));
    const graphs: [string, (quantize: boolean) => OnnxGraph, boolean][] = [
      [EXPORTED_FILES.encoder, (quantize) => buildT5EncoderGraph(config, parameters, configFile, { quantize }), false],
      [EXPORTED_FILES.decoder, (quantize) => buildT5DecoderGraph(config, parameters, configFile, { quantize }), false],
    ];
    if (options.quantize) {
      graphs.push([EXPORTED_FILES.encoderQuantized, graphs[0][1], true], [EXPORTED_FILES.decoderQuantized, graphs[1][1], true]);
    }
    for (const [name, build, quantize] of graphs) written.push(writeOnnxModel(staging, name, build(quantize)));
    if (fs.existsSync(out)) fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(staging, out);
    return { out, config, prefix, numberMapping: preprocessing?.numberMapping ?? false, tokenizer: tokenizerFile, files: written };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * config.json for transformers.js: zsd's T5 config and the task prefix its text2text pipeline prepends. Without
 * quantized graphs, `transformers.js_config.dtype` says fp32, since transformers.js would otherwise ask for the
 * q8 files on wasm (browsers); with them, each platform keeps its default (fp32 in Node, q8 in browsers).
 */
function exportedConfigJson(config: T5Config, prefix: string, quantized: boolean, numberMapping: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = { ...t5ConfigToJson(config), is_encoder_decoder: true };
  delete json.prefix;
  delete json['transformers.js_config'];
  delete json.zsd_number_mapping;
  if (numberMapping) json.zsd_number_mapping = true;
  if (prefix !== '') json.prefix = prefix;
  if (!quantized) json['transformers.js_config'] = { dtype: 'fp32' };
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(json).sort()) sorted[key] = json[key];
  return sorted;
}

function checkOutput(out: string, overwrite: boolean): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new ZsdError('usage', `${out} exists and is not a directory`);
  if (fs.readdirSync(out).length === 0) return;
  if (!overwrite) throw new ZsdError('usage', `${out} is not empty; choose a new directory or pass --overwrite`);
  // --overwrite replaces the folder as a whole: only one that an export wrote
  if (!fs.existsSync(path.join(out, EXPORTED_FILES.encoder)))
    throw new ZsdError('usage', `${out} is not an exported model (no ${EXPORTED_FILES.encoder}); --overwrite replaces only those`);
}

function resolveTokenizer(options: ExportOnnxOptions, checkpoint: string): string {
  if (options.tokenizer !== undefined) return path.resolve(options.tokenizer);
  const own = path.join(checkpoint, 'tokenizer.json');
  if (fs.existsSync(own)) return own;
  if (options.dataRoot === undefined) throw new ZsdError('usage', `${checkpoint} has no tokenizer.json; pass a tokenizer or a data root`);
  return t5TokenizerFile(options.dataRoot);
}

/** The tokenizer_config.json beside the tokenizer.json, else what T5's says (model_max_length 512, zsd predict's default). */
function tokenizerConfig(tokenizerFile: string): Record<string, unknown> {
  const beside = path.join(path.dirname(tokenizerFile), 'tokenizer_config.json');
  if (fs.existsSync(beside)) {
    try {
      return JSON.parse(fs.readFileSync(beside, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ZsdError('invalid-file', `not JSON: ${(error as Error).message}`, { file: beside });
    }
  }
  return {
    tokenizer_class: 'T5Tokenizer',
    eos_token: '</s>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    model_max_length: 512,
    clean_up_tokenization_spaces: true,
  };
}

function writeOnnxModel(directory: string, name: string, graph: OnnxGraph): ExportedFile {
  const bytes = graph.initializers.reduce((sum, tensor) => sum + tensor.rawData.length, 0);
  if (bytes >= PROTOBUF_LIMIT) {
    throw new ZsdError(
      'usage',
      `${name} would hold ${(bytes / 2 ** 30).toFixed(2)} GiB of weights, over protobuf's 2 GiB; the export does not write ONNX external data yet`,
    );
  }
  const chunks = onnxModelChunks({
    graph,
    opsetVersion: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: 'zsd',
    producerVersion: '1',
    docString: 'T5ForConditionalGeneration exported by zsd export --format onnx',
  });
  return writeFile(directory, name, chunks);
}

function writeFile(directory: string, name: string, chunks: Uint8Array[]): ExportedFile {
  const file = path.join(directory, name);
  const descriptor = fs.openSync(file, 'w');
  let bytes = 0;
  try {
    for (const chunk of chunks) {
      for (let offset = 0; offset < chunk.length;) offset += fs.writeSync(descriptor, chunk, offset);
      bytes += chunk.length;
    }
  } finally {
    fs.closeSync(descriptor);
  }
  return { path: name, bytes };
}
