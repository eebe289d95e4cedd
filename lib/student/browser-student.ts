/**
 * The student in a browser page (`zsd serve --ui`): zsd's own T5, tokenizer and generation on TensorFlow.js's
 * WebAssembly backend, from the checkpoint's files as the server hands them out. It prepares inputs and decodes
 * answers as `zsd predict` does (task prefix, number mapping, greedy generation, the same decoding), so the page's
 * answer is predict's. lib/serve/browser-bundle.ts bundles this file and what it requires for the browser.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ZsdError } from '../core/errors';
import { initBackend, type BackendInfo } from './backend';
import { mapNumbers, numberMappingOf, unmapNumbers } from './number-mapping';
import type { HostTensor } from './safetensors';
import { parseT5Config } from './t5-config';
import { generate } from './t5-generate';
import { T5Model } from './t5-model';
import { checkpointParameters } from './t5-weights';
import { parseT5Tokenizer, type T5Tokenizer } from './tokenizer';

export interface BrowserStudentFiles {
  /** config.json, parsed */
  config: unknown;
  /** model.safetensors */
  weights: ArrayBuffer;
  /** tokenizer.json, parsed */
  tokenizer: unknown;
  /** preprocessing.json, parsed, or null */
  preprocessing: { inputPrefix?: string; numberMapping?: boolean } | null;
}

export interface BrowserAnswer {
  label: string;
  rationale: string | null;
}

export class BrowserStudent {
  private constructor(
    readonly backend: BackendInfo,
    private readonly model: T5Model,
    private readonly tokenizer: T5Tokenizer,
    private readonly prefix: string,
    private readonly numberMapping: boolean,
    private readonly maxInputTokens: number,
  ) {}

  /** Starts the wasm backend (its .wasm files under `wasmPath`) and builds the model from the files. */
  static async load(files: BrowserStudentFiles, options: { wasmPath: string; maxInputTokens: number }): Promise<BrowserStudent> {
    setWasmPaths(options.wasmPath);
    const backend = await initBackend({ prefer: 'wasm' });
    const config = parseT5Config(files.config, 'config.json');
    const tokenizer = parseT5Tokenizer(files.tokenizer, 'tokenizer.json');
    const tensors = parseSafetensorsBytes(files.weights, 'model.safetensors');
    const model = T5Model.fromHostTensors(config, checkpointParameters(config, tensors, 'model.safetensors'));
    return new BrowserStudent(
      backend,
      model,
      tokenizer,
      files.preprocessing?.inputPrefix ?? 'predict: ',
      files.preprocessing?.numberMapping ?? false,
      options.maxInputTokens,
    );
  }

  /** The label (and with explain, the rationale), as `zsd predict` and `zsd serve` answer the input. */
  answer(input: string, options: { maxNewTokens: number; explain?: boolean }): BrowserAnswer {
    const mapping = this.numberMapping ? numberMappingOf(input) : null;
    const text = mapping === null ? input : mapNumbers(input, mapping);
    const run = (prefix: string) => {
      const encoded = this.tokenizer.encodeBatch([`${prefix}${text}`], { maxLength: this.maxInputTokens, truncation: true, padding: 'longest' });
      const [sequence] = generate(this.model, { inputIds: encoded.inputIds, attentionMask: encoded.attentionMask }, { maxNewTokens: options.maxNewTokens });
      const output = this.tokenizer.decode(sequence, { skipSpecialTokens: true, cleanUpTokenizationSpaces: true });
      return mapping === null ? output : unmapNumbers(output, mapping);
    };
    return { label: run(this.prefix), rationale: options.explain && this.prefix !== '' ? run('explain: ') : null };
  }
}

/** A safetensors file's float32 tensors from its bytes (zsd saves float32; other dtypes are refused, naming them). */
export function parseSafetensorsBytes(bytes: ArrayBuffer, file: string): Map<string, HostTensor> {
  const view = new DataView(bytes);
  if (bytes.byteLength < 8) throw new ZsdError('invalid-file', 'shorter than the 8-byte header length', { file });
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength)
    throw new ZsdError('invalid-file', `the header announces ${headerLength} bytes in a file of ${bytes.byteLength}`, { file });
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 8, headerLength))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const start = 8 + headerLength;
  const tensors = new Map<string, HostTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new ZsdError('invalid-file', `tensor ${name} is ${entry.dtype}; the browser student reads F32 only`, { file, key: name });
    const [from, to] = entry.data_offsets;
    // a copy: the data of a tensor need not be 4-byte aligned in the file
    const data = new Float32Array(bytes.slice(start + from, start + to));
    tensors.set(name, { shape: entry.shape, data });
  }
  return tensors;
}
