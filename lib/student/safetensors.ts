import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError, type ErrorLocation } from '../core/errors';

/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written with plain typed arrays:
 * an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`), then the data buffer.
 * Offsets are relative to the buffer; data is little-endian.
 *
 * Validation is as strict as the reference (Rust) implementation: the tensors, sorted by offset, tile the
 * buffer exactly (no overlap, no hole, nothing after the last), and each spans dtype size x element count bytes.
 * Every error names the file and the tensor (or key).
 *
 * Reading widens every supported dtype to float32. F16, BF16 and F8 widen exactly; F64 rounds to nearest even
 * (as numpy's astype does); integers convert through float64 (exact up to 2^24).
 * Writing stores F32, or F16/BF16 rounded to nearest even as torch's `.to(torch.float16 / torch.bfloat16)` does.
 */

/** Every dtype the format defines (safetensors 0.8). */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** The dtypes `readSafetensors` widens to float32; the others can be listed (header) but not read. */
export const READABLE_DTYPES: readonly SafetensorsDtype[] = [
  'F32',
  'F16',
  'BF16',
  'F64',
  'F8_E4M3',
  'F8_E5M2',
  'BOOL',
  'U8',
  'I8',
  'U16',
  'I16',
  'U32',
  'I32',
  'U64',
  'I64',
];

export type WritableDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

/** A tensor in host memory: row-major float32 data of `shape` (a scalar has shape []). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Record<string, SafetensorsTensorInfo>;
  metadata?: Record<string, string>;
}

export interface WriteSafetensorsOptions {
  /** Storage dtype; default F32. */
  dtype?: WritableDtype;
  /** `__metadata__`; `format: "pt"` is added when absent, since transformers refuses files without a format. */
  metadata?: Record<string, string>;
}

export interface WriteShardedOptions extends WriteSafetensorsOptions {
  /** Largest shard in bytes of tensor data (headers not counted), as transformers' `max_shard_size`. */
  maxShardBytes: number;
}

export const SAFE_WEIGHTS_NAME = 'model.safetensors';
export const SAFE_WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';
const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** One tensor's place in the file, in file (offset) order. */
interface LocatedTensor extends SafetensorsTensorInfo {
  name: string;
  elements: number;
}

interface ParsedFile {
  tensors: LocatedTensor[];
  metadata?: Record<string, string>;
  /** Absolute file position where the data buffer starts (8 + N). */
  dataStart: number;
}

export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const handle = openForReading(file);
  try {
    const parsed = parseHeader(handle, file);
    const tensors: Record<string, SafetensorsTensorInfo> = {};
    for (const tensor of parsed.tensors) {
      tensors[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: tensor.data_offsets };
    }
    return parsed.metadata === undefined ? { tensors } : { tensors, metadata: parsed.metadata };
  } finally {
    fs.closeSync(handle);
  }
}

/** All tensors of a file, widened to float32, in file order (by data offset). */
export function readSafetensors(file: string): Map<string, HostTensor> {
  assertLittleEndianHost();
  const handle = openForReading(file);
  try {
    const parsed = parseHeader(handle, file);
    for (const tensor of parsed.tensors) {
      if (!READABLE_DTYPES.includes(tensor.dtype)) {
        throw new ZsdError('invalid-file', `tensor has dtype ${tensor.dtype}, which cannot be read as float32; readable: ${READABLE_DTYPES.join(', ')}`, {
          file,
          key: tensor.name,
        });
      }
    }
    const result = new Map<string, HostTensor>();
    for (const tensor of parsed.tensors) {
      const position = parsed.dataStart + tensor.data_offsets[0];
      const byteLength = tensor.data_offsets[1] - tensor.data_offsets[0];
      let data: Float32Array;
      if (tensor.dtype === 'F32') {
        // Read straight into the tensor's own (aligned) memory: no copy, no view into a shared file buffer.
        data = new Float32Array(Buffer.allocUnsafeSlow(byteLength).buffer, 0, tensor.elements);
        readExactly(handle, new Uint8Array(data.buffer, 0, byteLength), position, file, tensor.name);
      } else {
        const raw = Buffer.allocUnsafeSlow(byteLength);
        readExactly(handle, raw, position, file, tensor.name);
        data = widen(tensor.dtype, raw.buffer, tensor.elements);
      }
      result.set(tensor.name, { shape: tensor.shape, data });
    }
    return result;
  } finally {
    fs.closeSync(handle);
  }
}

/**
 * The tensors of a checkpoint directory as transformers saves it: `model.safetensors`, else the shards that
 * `model.safetensors.index.json` names in its weight_map (the same preference as transformers' loader).
 * `files` lists the files read, in reading order.
 */
export function readCheckpointTensors(directory: string): { tensors: Map<string, HostTensor>; files: string[] } {
  if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) {
    throw new ZsdError('not-found', `checkpoint directory ${directory} does not exist`, { file: directory });
  }
  const single = path.join(directory, SAFE_WEIGHTS_NAME);
  if (fs.existsSync(single)) return { tensors: readSafetensors(single), files: [single] };
  const indexFile = path.join(directory, SAFE_WEIGHTS_INDEX_NAME);
  if (!fs.existsSync(indexFile)) {
    throw new ZsdError('not-found', `no ${SAFE_WEIGHTS_NAME} or ${SAFE_WEIGHTS_INDEX_NAME} in checkpoint directory ${directory}`, {
      file: directory,
    });
  }
  const weightMap = readIndex(indexFile);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    const names = byShard.get(shard) ?? [];
    names.push(name);
    byShard.set(shard, names);
  }
  const shards = [...byShard.keys()].sort();
  const files: string[] = [];
  for (const shard of shards) {
    const shardFile = path.join(directory, shard);
    if (!fs.existsSync(shardFile)) {
      const example = byShard.get(shard)![0];
      throw new ZsdError('not-found', `shard ${shard} (holding ${byShard.get(shard)!.length} tensors, e.g. ${example}) is missing from ${directory}`, {
        file: indexFile,
        key: `weight_map.${example}`,
      });
    }
    files.push(shardFile);
  }
  const tensors = new Map<string, HostTensor>();
  for (const [index, shard] of shards.entries()) {
    const shardFile = files[index];
    const contents = readSafetensors(shardFile);
    for (const name of byShard.get(shard)!) {
      if (!contents.has(name)) {
        throw new ZsdError('invalid-file', `tensor ${name} is not in shard ${shard}, where ${SAFE_WEIGHTS_INDEX_NAME} says it is`, {
          file: shardFile,
          key: name,
        });
      }
    }
    for (const [name, tensor] of contents) {
      if (weightMap[name] !== shard) {
        const listed = Object.hasOwn(weightMap, name) ? `the index puts it in ${weightMap[name]}` : 'the index does not list it';
        throw new ZsdError('invalid-file', `tensor ${name} is in shard ${shard} but ${listed}; expected every tensor in the weight_map under its shard`, {
          file: shardFile,
          key: name,
        });
      }
      tensors.set(name, tensor);
    }
  }
  return { tensors, files };
}

// Shard names are plain file names inside the checkpoint directory (no path that leads out of it).
const shardFileName = z
  .string()
  .regex(/^[^/\\]+$/, 'expected a file name in the checkpoint directory')
  .refine((name) => name !== '..' && name !== '.', 'expected a file name in the checkpoint directory');

const indexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), shardFileName),
});

function readIndex(indexFile: string): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (error) {
    throw new ZsdError(
      'invalid-file',
      `index is not valid JSON (${(error as Error).message}); expected {"metadata": {...}, "weight_map": {tensor: shard file}}`,
      {
        file: indexFile,
      },
    );
  }
  const parsed = indexSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.map(String).join('.');
    throw new ZsdError('invalid-file', `${issue.message}; expected {"metadata": {...}, "weight_map": {tensor: shard file}}`, {
      file: indexFile,
      key: key || undefined,
    });
  }
  return parsed.data.weight_map;
}

function openForReading(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (error) {
    throw new ZsdError('not-found', `cannot open safetensors file: ${(error as Error).message}`, { file });
  }
}

function readExactly(handle: number, target: Uint8Array, position: number, file: string, key?: string): void {
  let done = 0;
  while (done < target.byteLength) {
    // One read call moves at most 2 GiB; larger tensors take several.
    const length = Math.min(target.byteLength - done, 0x7fff0000);
    const count = fs.readSync(handle, target, done, length, position + done);
    if (count === 0) {
      throw new ZsdError('invalid-file', `file ended after ${position + done} bytes while reading ${target.byteLength} bytes at ${position}; truncated?`, {
        file,
        key,
      });
    }
    done += count;
  }
}

function parseHeader(handle: number, file: string): ParsedFile {
  const size = fs.fstatSync(handle).size;
  const invalid = (detail: string, key?: string): ZsdError => new ZsdError('invalid-file', detail, { file, key } satisfies ErrorLocation);
  if (size < 8) throw invalid(`file has ${size} bytes; a safetensors file starts with an 8-byte little-endian header length`);
  const lengthBytes = Buffer.alloc(8);
  readExactly(handle, lengthBytes, 0, file);
  const headerLength = lengthBytes.readBigUInt64LE(0);
  if (headerLength > BigInt(size - 8)) {
    throw invalid(
      `header length ${headerLength} runs past the end of the file (${size} bytes, so at most ${size - 8}); truncated file or not a safetensors file`,
    );
  }
  const length = Number(headerLength);
  const headerBytes = Buffer.alloc(length);
  readExactly(handle, headerBytes, 8, file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw invalid(`the ${length}-byte header is not valid UTF-8; expected a JSON object`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(`the ${length}-byte header is not valid JSON (${(error as Error).message}); truncated header or not a safetensors file`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid('the header is not a JSON object; expected {tensor name: {dtype, shape, data_offsets}, "__metadata__"?: {...}}');
  }
  const dataStart = 8 + length;
  const bufferLength = size - dataStart;
  let metadata: Record<string, string> | undefined;
  const tensors: LocatedTensor[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, invalid);
      continue;
    }
    const tensor = parseTensorInfo(name, value, invalid);
    const [begin, end] = tensor.data_offsets;
    if (end > bufferLength) {
      throw invalid(`data_offsets [${begin}, ${end}] run past the end of the ${bufferLength}-byte data buffer; truncated file?`, name);
    }
    tensors.push(tensor);
  }
  // File order: by offsets (as the reference implementation validates), header order among empty tensors.
  const ordered = tensors
    .map((tensor, index) => ({ tensor, index }))
    .sort((a, b) => a.tensor.data_offsets[0] - b.tensor.data_offsets[0] || a.tensor.data_offsets[1] - b.tensor.data_offsets[1] || a.index - b.index)
    .map(({ tensor }) => tensor);
  let covered = 0;
  let previous: LocatedTensor | undefined;
  for (const tensor of ordered) {
    const [begin, end] = tensor.data_offsets;
    if (begin < covered) {
      throw invalid(
        `data_offsets [${begin}, ${end}] overlap tensor ${previous!.name} at [${previous!.data_offsets.join(', ')}]; expected tensors not to share bytes`,
        tensor.name,
      );
    }
    if (begin > covered) {
      const after = previous ? `after tensor ${previous.name}` : 'at the start of the data buffer';
      throw invalid(
        `bytes ${covered}..${begin} of the data buffer (${after}) belong to no tensor; expected tensors to follow each other without gaps`,
        tensor.name,
      );
    }
    covered = end;
    previous = tensor;
  }
  if (covered !== bufferLength) {
    const last = previous ? ` (tensor ${previous.name})` : '';
    throw invalid(`the data buffer has ${bufferLength} bytes but the tensors end at ${covered}${last}; expected them to cover it exactly`, previous?.name);
  }
  return { tensors: ordered, metadata, dataStart };
}

function parseMetadata(value: unknown, invalid: (detail: string, key?: string) => ZsdError): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('expected an object of string values', '__metadata__');
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'string') throw invalid(`value is ${JSON.stringify(entry)}; expected a string`, `__metadata__.${key}`);
    metadata[key] = entry;
  }
  return metadata;
}

function parseTensorInfo(name: string, value: unknown, invalid: (detail: string, key?: string) => ZsdError): LocatedTensor {
  const expected = 'expected {"dtype": string, "shape": [integers], "data_offsets": [begin, end]}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`tensor entry is ${JSON.stringify(value)}; ${expected}`, name);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
    throw invalid(`unknown dtype ${JSON.stringify(dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`, name);
  }
  if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
    throw invalid(`shape ${JSON.stringify(shape)} is not a list of non-negative integers; ${expected}`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0) || offsets[0] > offsets[1]) {
    throw invalid(`data_offsets ${JSON.stringify(offsets)} are not [begin, end] with 0 <= begin <= end; ${expected}`, name);
  }
  const elements = elementCount(shape as number[]);
  if (elements === undefined) throw invalid(`shape ${JSON.stringify(shape)} has too many elements`, name);
  const bits = DTYPE_BITS[dtype as SafetensorsDtype] * elements;
  const [begin, end] = offsets as [number, number];
  if (bits % 8 !== 0 || bits / 8 !== end - begin) {
    const need = bits % 8 === 0 ? `${bits / 8} bytes` : `${bits} bits, not a whole number of bytes`;
    throw invalid(
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes; expected ${need} (${dtype} x shape ${JSON.stringify(shape)} = ${elements} elements)`,
      name,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], data_offsets: [begin, end], elements };
}

function elementCount(shape: readonly number[]): number | undefined {
  let count = 1;
  for (const dimension of shape) {
    count *= dimension;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}

function assertLittleEndianHost(): void {
  if (os.endianness() !== 'LE') throw new ZsdError('internal', 'safetensors reading and writing assume a little-endian host');
}

// ---------------------------------------------------------------------------------------------------------------
// Conversions

function widen(dtype: SafetensorsDtype, buffer: ArrayBuffer, count: number): Float32Array {
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F16':
    case 'F8_E5M2':
    case 'F8_E4M3': {
      // Bit patterns through Uint32Array views: going through a JS number would quiet signalling NaNs.
      const table = dtype === 'F16' ? float16Table() : dtype === 'F8_E5M2' ? float8E5M2Table() : float8E4M3Table();
      const input = dtype === 'F16' ? new Uint16Array(buffer, 0, count) : new Uint8Array(buffer, 0, count);
      const bits = new Uint32Array(out.buffer);
      for (let index = 0; index < count; index++) bits[index] = table[input[index]];
      return out;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32: exact, NaN payloads included.
      const input = new Uint16Array(buffer, 0, count);
      const bits = new Uint32Array(out.buffer);
      for (let index = 0; index < count; index++) bits[index] = input[index] << 16;
      return out;
    }
    case 'F64':
      out.set(new Float64Array(buffer, 0, count));
      return out;
    case 'BOOL':
    case 'U8':
      out.set(new Uint8Array(buffer, 0, count));
      return out;
    case 'I8':
      out.set(new Int8Array(buffer, 0, count));
      return out;
    case 'U16':
      out.set(new Uint16Array(buffer, 0, count));
      return out;
    case 'I16':
      out.set(new Int16Array(buffer, 0, count));
      return out;
    case 'U32':
      out.set(new Uint32Array(buffer, 0, count));
      return out;
    case 'I32':
      out.set(new Int32Array(buffer, 0, count));
      return out;
    case 'U64': {
      const input = new BigUint64Array(buffer, 0, count);
      for (let index = 0; index < count; index++) out[index] = Number(input[index]);
      return out;
    }
    case 'I64': {
      const input = new BigInt64Array(buffer, 0, count);
      for (let index = 0; index < count; index++) out[index] = Number(input[index]);
      return out;
    }
    default:
      throw new ZsdError('internal', `no float32 conversion for dtype ${dtype}`);
  }
}

let float16Cache: Uint32Array | undefined;
/** float32 bit pattern of every IEEE half bit pattern (subnormals, infinities and NaNs included). */
function float16Table(): Uint32Array {
  if (float16Cache) return float16Cache;
  const table = new Uint32Array(65536);
  for (let half = 0; half < 65536; half++) table[half] = float16BitsToFloat32Bits(half);
  float16Cache = table;
  return table;
}

/** Exact half -> single widening, bit for bit; NaNs keep their payload and signalling bit, as numpy's cast. */
export function float16BitsToFloat32Bits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal half: normalise into a float32 normal.
  let shift = 0;
  let normalized = mantissa;
  while ((normalized & 0x400) === 0) {
    normalized <<= 1;
    shift++;
  }
  return (sign | ((113 - shift) << 23) | ((normalized & 0x3ff) << 13)) >>> 0;
}

let float8E5M2Cache: Uint32Array | undefined;
/** F8_E5M2 is the upper byte of an IEEE half. */
function float8E5M2Table(): Uint32Array {
  if (float8E5M2Cache) return float8E5M2Cache;
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = float16BitsToFloat32Bits(byte << 8);
  float8E5M2Cache = table;
  return table;
}

let float8E4M3Cache: Uint32Array | undefined;
/**
 * F8_E4M3 is torch.float8_e4m3fn: bias 7, subnormals, no infinities, NaN only at S.1111.111 (widened to
 * sign | 0x7FF00000 as torch does), largest finite 448.
 */
function float8E4M3Table(): Uint32Array {
  if (float8E4M3Cache) return float8E4M3Cache;
  const values = new Float32Array(256);
  const table = new Uint32Array(values.buffer);
  for (let byte = 0; byte < 256; byte++) {
    const sign = byte & 0x80 ? -1 : 1;
    const exponent = (byte >>> 3) & 0xf;
    const mantissa = byte & 0x7;
    if (exponent === 0xf && mantissa === 0x7) table[byte] = (((byte & 0x80) << 24) | 0x7ff00000) >>> 0;
    else if (exponent === 0) values[byte] = sign * (mantissa / 8) * 2 ** -6;
    else values[byte] = sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
  }
  float8E4M3Cache = table;
  return table;
}

/**
 * float32 bits -> IEEE half bits, rounding to nearest even; overflow gives infinity, NaN gives the quiet NaN
 * 0x7E00 with the sign kept (torch's c10::Half conversion).
 */
export function float32BitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | (mantissa !== 0 ? 0x7e00 : 0x7c00);
  if (exponent >= 143) return sign | 0x7c00; // >= 2^16: beyond the largest half even before rounding
  if (exponent >= 113) {
    // Normal half; a carry out of the mantissa bumps the exponent (and 65520 and up becomes infinity).
    let half = ((exponent - 112) << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
    return sign | half;
  }
  // Subnormal half (or zero): value = m * 2^(exponent - 150), in units of 2^-24.
  const shift = 126 - exponent;
  if (shift > 24) return sign;
  const significand = mantissa | 0x800000;
  let half = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
  return sign | half;
}

/** float32 bits -> bfloat16 bits, rounding to nearest even; every NaN becomes 0x7FC0 (torch's c10::BFloat16). */
export function float32BitsToBfloat16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return 0x7fc0;
  // Cannot pass 2^32: the largest non-NaN pattern is 0xFF800000 (minus infinity).
  const unsigned = bits >>> 0;
  return ((unsigned + 0x7fff + ((unsigned >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

type TensorEntries = Map<string, HostTensor> | readonly (readonly [string, HostTensor])[];

/**
 * Writes tensors in the given order to one file, atomically (temporary sibling, fsync, rename).
 * The header is compact JSON padded with spaces to a multiple of 8 bytes, as the reference writer does, so that
 * an F32 file written in the reference's order (dtype, then name) is byte-identical to it.
 */
export function writeSafetensors(file: string, tensors: TensorEntries, options: WriteSafetensorsOptions = {}): void {
  assertLittleEndianHost();
  const dtype = options.dtype ?? 'F32';
  const entries = checkedEntries(tensors, file);
  const bytesPerElement = DTYPE_BITS[dtype] / 8;
  let offset = 0;
  // Built as text, not through an object, so that integer-like tensor names keep their place.
  const parts = [`"__metadata__":${JSON.stringify({ format: 'pt', ...options.metadata })}`];
  for (const [name, tensor] of entries) {
    const end = offset + tensor.data.length * bytesPerElement;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: tensor.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  let headerText = `{${parts.join(',')}}`;
  const headerLength = Buffer.byteLength(headerText, 'utf8');
  headerText += ' '.repeat((8 - (headerLength % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length), 0);

  writeAtomically(file, (handle) => {
    writeAll(handle, prefix);
    writeAll(handle, headerBytes);
    for (const [, tensor] of entries) writeTensorData(handle, tensor.data, dtype);
  });
}

/**
 * Writes a checkpoint directory as transformers' `save_pretrained` does: tensors split in order into shards of at
 * most `maxShardBytes` of data (a larger tensor gets a shard of its own), named `model-00001-of-0000N.safetensors`,
 * with `model.safetensors.index.json` ({"metadata": {"total_parameters", "total_size"}, "weight_map"}, sorted keys,
 * 2-space indent). A single shard is written as `model.safetensors` with no index, as transformers does.
 * Weight files of an earlier save that the new one does not replace are removed (transformers leaves a stale
 * `model.safetensors` behind, which its loader would then prefer).
 */
export function writeShardedSafetensors(directory: string, tensors: TensorEntries, options: WriteShardedOptions): void {
  const { maxShardBytes } = options;
  if (!(Number.isSafeInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new ZsdError('usage', `maxShardBytes is ${maxShardBytes}; expected a positive integer number of bytes`, { file: directory });
  }
  const dtype = options.dtype ?? 'F32';
  const entries = checkedEntries(tensors, directory);
  const bytesPerElement = DTYPE_BITS[dtype] / 8;
  // huggingface_hub.split_state_dict_into_shards_factory, step for step.
  const shards: [string, HostTensor][][] = [];
  let current: [string, HostTensor][] = [];
  let currentBytes = 0;
  let totalBytes = 0;
  let totalParameters = 0;
  for (const entry of entries) {
    const bytes = entry[1].data.length * bytesPerElement;
    totalBytes += bytes;
    totalParameters += entry[1].data.length;
    if (bytes > maxShardBytes) {
      shards.push([entry]);
      continue;
    }
    if (currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += bytes;
  }
  if (current.length > 0) shards.push(current);
  if (shards.length === 0) shards.push([]);

  fs.mkdirSync(directory, { recursive: true });
  const names = shards.length === 1 ? [SAFE_WEIGHTS_NAME] : shards.map((_, index) => shardName(index + 1, shards.length));
  for (const [index, shard] of shards.entries()) {
    writeSafetensors(path.join(directory, names[index]), shard, { dtype, metadata: options.metadata });
  }
  if (shards.length > 1) {
    const weightMap: [string, string][] = [];
    for (const [index, shard] of shards.entries()) for (const [name] of shard) weightMap.push([name, names[index]]);
    const text = pythonJsonIndex({ total_parameters: totalParameters, total_size: totalBytes }, weightMap);
    writeAtomically(path.join(directory, SAFE_WEIGHTS_INDEX_NAME), (handle) => writeAll(handle, Buffer.from(text, 'utf8')));
  }
  const keep = new Set(names);
  if (shards.length > 1) keep.add(SAFE_WEIGHTS_INDEX_NAME);
  for (const entry of fs.readdirSync(directory)) {
    const stale = SHARD_NAME.test(entry) || entry === SAFE_WEIGHTS_NAME || entry === SAFE_WEIGHTS_INDEX_NAME;
    if (stale && !keep.has(entry) && fs.statSync(path.join(directory, entry)).isFile()) fs.rmSync(path.join(directory, entry));
  }
}

function shardName(index: number, count: number): string {
  return `model-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
}

/** `json.dumps(index, indent=2, sort_keys=True) + "\n"` as transformers writes the index (ASCII escapes included). */
function pythonJsonIndex(metadata: Record<string, number>, weightMap: [string, string][]): string {
  const quote = (text: string): string =>
    JSON.stringify(text).replace(/[\u0080-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const byCodePoint = (a: string, b: string): number => {
    const left = [...a];
    const right = [...b];
    for (let index = 0; index < Math.min(left.length, right.length); index++) {
      const difference = left[index].codePointAt(0)! - right[index].codePointAt(0)!;
      if (difference !== 0) return difference;
    }
    return left.length - right.length;
  };
  const metadataLines = Object.keys(metadata)
    .sort(byCodePoint)
    .map((key) => `    ${quote(key)}: ${metadata[key]}`);
  const weightLines = [...weightMap].sort((a, b) => byCodePoint(a[0], b[0])).map(([name, file]) => `    ${quote(name)}: ${quote(file)}`);
  const block = (lines: string[]): string => (lines.length === 0 ? '{}' : `{\n${lines.join(',\n')}\n  }`);
  return `{\n  "metadata": ${block(metadataLines)},\n  "weight_map": ${block(weightLines)}\n}\n`;
}

function checkedEntries(tensors: TensorEntries, file: string): [string, HostTensor][] {
  const entries = tensors instanceof Map ? [...tensors.entries()] : tensors.map(([name, tensor]) => [name, tensor] as [string, HostTensor]);
  const seen = new Set<string>();
  for (const [name, tensor] of entries) {
    const location = { file, key: name };
    if (name === '__metadata__') throw new ZsdError('usage', 'a tensor cannot be named __metadata__ (the header key for metadata)', location);
    if (seen.has(name)) throw new ZsdError('usage', 'tensor name given twice; expected unique names', location);
    seen.add(name);
    if (!(tensor.data instanceof Float32Array)) throw new ZsdError('usage', 'tensor data is not a Float32Array', location);
    if (!tensor.shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
      throw new ZsdError('usage', `shape ${JSON.stringify(tensor.shape)} is not a list of non-negative integers`, location);
    }
    const elements = elementCount(tensor.shape);
    if (elements !== tensor.data.length) {
      throw new ZsdError('usage', `shape ${JSON.stringify(tensor.shape)} has ${elements} elements but the data has ${tensor.data.length}`, location);
    }
  }
  return entries;
}

const CONVERSION_CHUNK = 1 << 20;

function writeTensorData(handle: number, data: Float32Array, dtype: WritableDtype): void {
  if (dtype === 'F32') {
    writeAll(handle, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const convert = dtype === 'F16' ? float32BitsToFloat16Bits : float32BitsToBfloat16Bits;
  const chunk = new Uint16Array(Math.min(CONVERSION_CHUNK, data.length));
  for (let start = 0; start < data.length; start += chunk.length) {
    const count = Math.min(chunk.length, data.length - start);
    for (let index = 0; index < count; index++) chunk[index] = convert(bits[start + index]);
    writeAll(handle, new Uint8Array(chunk.buffer, 0, count * 2));
  }
}

function writeAll(handle: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(handle, bytes, done, Math.min(bytes.byteLength - done, 0x7fff0000));
}

/** core/paths writeFileAtomic for binary content written in pieces: temporary sibling, fsync, rename. */
function writeAtomically(file: string, write: (handle: number) => void): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = fs.openSync(temporary, 'w');
  try {
    write(handle);
    fs.fsyncSync(handle);
  } catch (error) {
    fs.closeSync(handle);
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fs.closeSync(handle);
  fs.renameSync(temporary, file);
}
