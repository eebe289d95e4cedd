import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import {
  float32BitsToBfloat16Bits,
  float32BitsToFloat16Bits,
  readCheckpointTensors,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  writeShardedSafetensors,
  type HostTensor,
} from './safetensors';

// Fixtures made by fixtures/safetensors-fixture.py with numpy and the safetensors reference implementation.
const FIXTURES = path.join(__dirname, 'fixtures');
const DTYPES_FILE = path.join(FIXTURES, 'safetensors-dtypes.safetensors');

interface ReferenceEntry {
  name: string;
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
  sha256: string;
  first: number[];
  last: number;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'safetensors-expected.json'), 'utf8')) as {
  reference: Record<'v1_1' | 'orig', { metadata: Record<string, string>; tensors: ReferenceEntry[] }>;
  sharded: { max_shard_bytes: number; filename_to_tensors: Record<string, string[]>; index_text: string };
  dtypes: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
};

const referenceFile = (variant: string): string => path.join(DATA_ROOT, 't5-reference', variant, 'model.safetensors');

function bitsOf(data: Float32Array): Uint32Array {
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

function sha256(data: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/** The error a call throws, for asserting its kind, location and message. */
function errorOf(action: () => unknown): ZsdError {
  try {
    action();
  } catch (error) {
    if (error instanceof ZsdError) return error;
    throw error;
  }
  throw new Error('expected a ZsdError, but nothing was thrown');
}

/** A file with the given header text (or object) and data bytes; `headerLength` overrides the length prefix. */
function rawFile(directory: string, name: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): string {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(headerBytes.length));
  const file = path.join(directory, name);
  fs.writeFileSync(file, Buffer.concat([prefix, headerBytes, data]));
  return file;
}

/** The raw 16-bit patterns a file stores for one tensor. */
function rawUint16(file: string, name: string): Uint16Array {
  const header = readSafetensorsHeader(file);
  const bytes = fs.readFileSync(file);
  const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
  const [begin, end] = header.tensors[name].data_offsets;
  const copy = Uint8Array.prototype.slice.call(bytes, dataStart + begin, dataStart + end);
  return new Uint16Array(copy.buffer, 0, (end - begin) / 2);
}

describe('readSafetensors on the real checkpoints transformers saved', () => {
  for (const variant of ['v1_1', 'orig'] as const) {
    it(`reads every tensor of ${variant} with the names, shapes and bytes Python reads`, () => {
      const tensors = readSafetensors(referenceFile(variant));
      const entries = expected.reference[variant].tensors;
      expect([...tensors.keys()]).toEqual(entries.map((entry) => entry.name));
      for (const entry of entries) {
        const tensor = tensors.get(entry.name)!;
        expect({ name: entry.name, shape: tensor.shape }).toEqual({ name: entry.name, shape: entry.shape });
        expect({ name: entry.name, sha256: sha256(tensor.data) }).toEqual({ name: entry.name, sha256: entry.sha256 });
        expect([...tensor.data.subarray(0, 3)]).toEqual(entry.first);
        expect(tensor.data[tensor.data.length - 1]).toBe(entry.last);
      }
    });

    it(`reads the header of ${variant}: format pt metadata, dtypes, shapes and offsets`, () => {
      const header = readSafetensorsHeader(referenceFile(variant));
      expect(header.metadata).toEqual({ format: 'pt' });
      expect(Object.keys(header.tensors)).toEqual(expected.reference[variant].tensors.map((entry) => entry.name));
      for (const entry of expected.reference[variant].tensors) {
        expect(header.tensors[entry.name]).toEqual({ dtype: entry.dtype, shape: entry.shape, data_offsets: entry.data_offsets });
      }
    });
  }

  it('reads a checkpoint directory with model.safetensors; v1_1 there has no lm_head (tied, unscaled)', () => {
    const { tensors, files } = readCheckpointTensors(path.join(DATA_ROOT, 't5-reference', 'v1_1'));
    expect(files).toEqual([referenceFile('v1_1')]);
    expect(tensors.size).toBe(expected.reference.v1_1.tensors.length);
    expect(tensors.has('lm_head.weight')).toBe(false);
    expect(tensors.get('shared.weight')!.shape).toEqual([32128, 32]);
  });

  it('gives every float32 tensor its own aligned memory, not a view into a shared file buffer', () => {
    const tensors = readSafetensors(referenceFile('orig'));
    const buffers = new Set([...tensors.values()].map((tensor) => tensor.data.buffer));
    expect(buffers.size).toBe(tensors.size);
    for (const tensor of tensors.values()) expect(tensor.data.byteOffset).toBe(0);
  });
});

describe('readSafetensors widening every dtype to float32 (numpy as the oracle)', () => {
  const tensors = readSafetensors(DTYPES_FILE);

  it('lists the tensors in file order with the header Python wrote', () => {
    const header = readSafetensorsHeader(DTYPES_FILE);
    expect(header.tensors).toEqual(expected.dtypes);
    const byOffset = Object.entries(expected.dtypes)
      .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1])
      .map(([name]) => name);
    expect([...tensors.keys()]).toEqual(byOffset);
  });

  const cases = ['f16', 'bf16', 'f8_e5m2', 'f8_e4m3', 'f64', 'i64', 'u64', 'i32', 'u32', 'i16', 'u16', 'i8', 'u8', 'bool'];
  it.each(cases)('%s: bit-exact float32 values (subnormals, infinities, NaN payloads included)', (name) => {
    const values = tensors.get(`${name}.values`)!;
    const want = tensors.get(`${name}.expected`)!;
    expect(values.shape).toEqual(want.shape);
    const got = bitsOf(values.data);
    const wanted = bitsOf(want.data);
    const mismatches: string[] = [];
    for (let index = 0; index < got.length; index++) {
      if (got[index] !== wanted[index]) mismatches.push(`${index}: ${got[index].toString(16)} != ${wanted[index].toString(16)}`);
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('covers the F16 and BF16 corner cases it claims to', () => {
    const f16 = tensors.get('f16.values')!.data;
    expect(f16.length).toBeGreaterThan(4000);
    expect(f16).toContain(2 ** -24); // smallest subnormal half
    expect(f16).toContain(65504);
    expect(f16).toContain(-Infinity);
    expect([...f16].some(Number.isNaN)).toBe(true);
    const bf16 = tensors.get('bf16.values')!.data;
    expect(bf16).toContain(2 ** -133); // smallest subnormal bfloat16
  });

  it('reads a scalar, an empty tensor and special float32 values', () => {
    expect(tensors.get('f32.scalar')).toEqual({ shape: [], data: new Float32Array([3.5]) });
    expect(tensors.get('f32.empty')!.shape).toEqual([0, 3]);
    expect(tensors.get('f32.empty')!.data.length).toBe(0);
    const special = [...tensors.get('f32.special')!.data];
    expect(special.slice(0, 4)).toEqual([0, -0, Infinity, -Infinity]);
    expect(Object.is(special[1], -0)).toBe(true);
    expect(special[4]).toBeNaN();
    expect(special[5]).toBe(2 ** -149);
  });
});

describe('writeSafetensors', () => {
  it('writes the v1_1 checkpoint back byte for byte (F32, same order, format pt, header padded to 8)', () => {
    const directory = temporaryDirectory();
    const tensors = readSafetensors(referenceFile('v1_1'));
    const file = path.join(directory, 'copy.safetensors');
    writeSafetensors(file, tensors);
    expect(fs.readFileSync(file).equals(fs.readFileSync(referenceFile('v1_1')))).toBe(true);
    expect(fs.readdirSync(directory)).toEqual(['copy.safetensors']); // no temporary file left behind
  });

  it('round-trips F32 exactly, special values and NaN bits included, accepting [name, tensor] pairs', () => {
    const directory = temporaryDirectory();
    const data = new Float32Array([0, -0, Infinity, -Infinity, 2 ** -149, 3.4028234663852886e38, 1 / 3, NaN]);
    bitsOf(data)[7] = 0x7fa00001; // a signalling NaN with a payload
    const pairs: [string, HostTensor][] = [
      ['b', { shape: [2, 4], data }],
      ['a', { shape: [], data: new Float32Array([7]) }],
      ['empty', { shape: [3, 0], data: new Float32Array(0) }],
    ];
    const file = path.join(directory, 'x.safetensors');
    writeSafetensors(file, pairs);
    const back = readSafetensors(file);
    expect([...back.keys()]).toEqual(['b', 'a', 'empty']);
    expect([...bitsOf(back.get('b')!.data)]).toEqual([...bitsOf(data)]);
    expect(back.get('b')!.shape).toEqual([2, 4]);
    expect(back.get('a')).toEqual({ shape: [], data: new Float32Array([7]) });
    expect(back.get('empty')!.shape).toEqual([3, 0]);
    expect(readSafetensorsHeader(file).metadata).toEqual({ format: 'pt' });
    expect(Number(fs.readFileSync(file).readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('keeps integer-like tensor names in the order given', () => {
    const file = path.join(temporaryDirectory(), 'numbers.safetensors');
    const one = { shape: [1], data: new Float32Array([1]) };
    writeSafetensors(file, [
      ['10', one],
      ['9', one],
      ['x', one],
    ]);
    expect([...readSafetensors(file).keys()]).toEqual(['10', '9', 'x']);
  });

  it('adds format pt to caller metadata and replaces an existing file', () => {
    const file = path.join(temporaryDirectory(), 'm.safetensors');
    writeSafetensors(file, [['w', { shape: [1], data: new Float32Array([1]) }]]);
    writeSafetensors(file, [['w', { shape: [1], data: new Float32Array([2]) }]], { metadata: { step: '100' } });
    expect(readSafetensorsHeader(file).metadata).toEqual({ format: 'pt', step: '100' });
    expect(readSafetensors(file).get('w')!.data[0]).toBe(2);
  });

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`rounds to ${dtype} as numpy/torch do (nearest even, overflow to infinity, subnormals)`, () => {
      const fixture = readSafetensors(DTYPES_FILE);
      const input = fixture.get('round.input')!;
      const file = path.join(temporaryDirectory(), 'rounded.safetensors');
      writeSafetensors(file, [['x', input]], { dtype });
      expect(readSafetensorsHeader(file).tensors.x).toEqual({ dtype, shape: input.shape, data_offsets: [0, input.data.length * 2] });
      const got = rawUint16(file, 'x');
      const want = rawUint16(DTYPES_FILE, dtype === 'F16' ? 'round.f16' : 'round.bf16');
      const mismatches: string[] = [];
      for (let index = 0; index < got.length; index++) {
        const bothNaN = dtype === 'F16' && Number.isNaN(input.data[index]) && (got[index] & 0x7fff) > 0x7c00 && (want[index] & 0x7fff) > 0x7c00;
        if (got[index] !== want[index] && !bothNaN) mismatches.push(`${input.data[index]}: ${got[index].toString(16)} != ${want[index].toString(16)}`);
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
      expect(got.length).toBeGreaterThan(4000);
      // And reading the rounded file gives back the widened rounded values.
      const back = readSafetensors(file).get('x')!.data;
      const widened = fixture.get(dtype === 'F16' ? 'round.f16' : 'round.bf16')!.data;
      for (let index = 0; index < back.length; index++) {
        if (!Number.isNaN(back[index])) expect(back[index]).toBe(widened[index]);
      }
    });
  }

  it('rounds the textbook cases to half and bfloat16', () => {
    const bits = (value: number): number => new Uint32Array(new Float32Array([value]).buffer)[0];
    expect(float32BitsToFloat16Bits(bits(1 + 2 ** -11))).toBe(0x3c00); // tie to even: down
    expect(float32BitsToFloat16Bits(bits(1 + 3 * 2 ** -11))).toBe(0x3c02); // tie to even: up
    expect(float32BitsToFloat16Bits(bits(65519))).toBe(0x7bff);
    expect(float32BitsToFloat16Bits(bits(65520))).toBe(0x7c00);
    expect(float32BitsToFloat16Bits(bits(2 ** -25))).toBe(0x0000);
    expect(float32BitsToFloat16Bits(bits(3 * 2 ** -25))).toBe(0x0002);
    expect(float32BitsToFloat16Bits(0xffc00001)).toBe(0xfe00); // NaN: quiet, sign kept, payload dropped (torch)
    expect(float32BitsToBfloat16Bits(bits(1 + 2 ** -8))).toBe(0x3f80);
    expect(float32BitsToBfloat16Bits(bits(1 + 3 * 2 ** -8))).toBe(0x3f82);
    expect(float32BitsToBfloat16Bits(0xffc00001)).toBe(0x7fc0);
  });

  it('refuses a shape that does not match the data, a repeated name and the name __metadata__', () => {
    const file = path.join(temporaryDirectory(), 'bad.safetensors');
    const one = { shape: [1], data: new Float32Array([1]) };
    const mismatch = errorOf(() => writeSafetensors(file, [['w', { shape: [2, 3], data: new Float32Array(5) }]]));
    expect(mismatch.location).toEqual({ file, key: 'w' });
    expect(mismatch.message).toContain('6 elements but the data has 5');
    expect(
      errorOf(() =>
        writeSafetensors(file, [
          ['w', one],
          ['w', one],
        ]),
      ).message,
    ).toContain('twice');
    expect(errorOf(() => writeSafetensors(file, [['__metadata__', one]])).location.key).toBe('__metadata__');
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('writeShardedSafetensors and readCheckpointTensors', () => {
  const reference = readSafetensors(referenceFile('v1_1'));

  it('splits as transformers save_pretrained does and writes the same index text', () => {
    const directory = temporaryDirectory();
    writeShardedSafetensors(directory, reference, { maxShardBytes: expected.sharded.max_shard_bytes });
    const shardNames = Object.keys(expected.sharded.filename_to_tensors);
    expect(fs.readdirSync(directory).sort()).toEqual([...shardNames, 'model.safetensors.index.json'].sort());
    for (const [shard, names] of Object.entries(expected.sharded.filename_to_tensors)) {
      expect({ shard, names: Object.keys(readSafetensorsHeader(path.join(directory, shard)).tensors) }).toEqual({ shard, names });
      expect(readSafetensorsHeader(path.join(directory, shard)).metadata).toEqual({ format: 'pt' });
    }
    expect(fs.readFileSync(path.join(directory, 'model.safetensors.index.json'), 'utf8')).toBe(expected.sharded.index_text);

    const { tensors, files } = readCheckpointTensors(directory);
    expect(files).toEqual(shardNames.map((name) => path.join(directory, name)));
    expect(new Set(tensors.keys())).toEqual(new Set(reference.keys()));
    for (const [name, tensor] of reference) {
      expect(tensors.get(name)!.shape).toEqual(tensor.shape);
      expect(sha256(tensors.get(name)!.data)).toBe(sha256(tensor.data));
    }
  });

  it('writes one model.safetensors and no index when everything fits, and cleans up after an earlier save', () => {
    const directory = temporaryDirectory();
    writeShardedSafetensors(directory, reference, { maxShardBytes: 50000 });
    fs.writeFileSync(path.join(directory, 'config.json'), '{}');
    writeShardedSafetensors(directory, reference, { maxShardBytes: 10 ** 9 });
    expect(fs.readdirSync(directory).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(fs.readFileSync(path.join(directory, 'model.safetensors')).equals(fs.readFileSync(referenceFile('v1_1')))).toBe(true);
    // And back: shards replace the single file, which transformers' loader would otherwise prefer.
    // shared.weight is 2 MB in BF16: a shard of its own, written first (transformers' order), the rest after it.
    writeShardedSafetensors(directory, reference, { maxShardBytes: 1_000_000, dtype: 'BF16' });
    expect(fs.readdirSync(directory).sort()).toEqual([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    const { tensors } = readCheckpointTensors(directory);
    const shared = tensors.get('shared.weight')!.data;
    expect(bitsOf(shared)[0]).toBe(float32BitsToBfloat16Bits(bitsOf(reference.get('shared.weight')!.data)[0]) << 16);
    expect(readSafetensorsHeader(path.join(directory, 'model-00001-of-00002.safetensors')).tensors).toEqual({
      'shared.weight': { dtype: 'BF16', shape: [32128, 32], data_offsets: [0, 32128 * 32 * 2] },
    });
  });

  it('prefers model.safetensors over an index beside it, as transformers does', () => {
    const directory = temporaryDirectory();
    writeShardedSafetensors(directory, reference, { maxShardBytes: 50000 });
    const single = path.join(directory, 'model.safetensors');
    writeSafetensors(single, [['only', { shape: [1], data: new Float32Array([1]) }]]);
    expect(readCheckpointTensors(directory)).toEqual({ tensors: new Map([['only', { shape: [1], data: new Float32Array([1]) }]]), files: [single] });
  });

  it('refuses a non-positive shard size', () => {
    expect(errorOf(() => writeShardedSafetensors(temporaryDirectory(), reference, { maxShardBytes: 0 })).kind).toBe('usage');
  });

  describe('errors naming the index, shard and tensor', () => {
    function shardedCopy(): string {
      const directory = temporaryDirectory();
      writeShardedSafetensors(directory, reference, { maxShardBytes: expected.sharded.max_shard_bytes });
      return directory;
    }
    const indexOf = (directory: string): string => path.join(directory, 'model.safetensors.index.json');
    const editIndex = (directory: string, edit: (index: { weight_map: Record<string, string> }) => void): void => {
      const index = JSON.parse(fs.readFileSync(indexOf(directory), 'utf8'));
      edit(index);
      fs.writeFileSync(indexOf(directory), JSON.stringify(index));
    };

    it('a shard listed in the index that is missing', () => {
      const directory = shardedCopy();
      fs.rmSync(path.join(directory, 'model-00005-of-00006.safetensors'));
      const error = errorOf(() => readCheckpointTensors(directory));
      expect(error.kind).toBe('not-found');
      expect(error.location).toEqual({ file: indexOf(directory), key: 'weight_map.shared.weight' });
      expect(error.message).toContain('model-00005-of-00006.safetensors');
    });

    it('a tensor in the weight_map that is not in its shard', () => {
      const directory = shardedCopy();
      editIndex(directory, (index) => {
        index.weight_map['lm_head.weight'] = 'model-00001-of-00006.safetensors';
      });
      const error = errorOf(() => readCheckpointTensors(directory));
      expect(error.kind).toBe('invalid-file');
      expect(error.location).toEqual({ file: path.join(directory, 'model-00001-of-00006.safetensors'), key: 'lm_head.weight' });
      expect(error.message).toContain('not in shard model-00001-of-00006.safetensors');
    });

    it('a tensor in a shard that the weight_map does not list there', () => {
      const directory = shardedCopy();
      editIndex(directory, (index) => {
        delete index.weight_map['shared.weight'];
      });
      // shared.weight was that shard's only tensor: the shard is no longer named, so take a shared one.
      editIndex(directory, (index) => {
        delete index.weight_map['decoder.final_layer_norm.weight'];
      });
      const error = errorOf(() => readCheckpointTensors(directory));
      expect(error.location.key).toBe('decoder.final_layer_norm.weight');
      expect(error.message).toContain('does not list it');
    });

    it('an index that is not JSON, or has no weight_map, and a directory without weights', () => {
      const directory = shardedCopy();
      fs.writeFileSync(indexOf(directory), '{"weight_map": ');
      expect(errorOf(() => readCheckpointTensors(directory)).message).toContain(`${indexOf(directory)}: index is not valid JSON`);
      fs.writeFileSync(indexOf(directory), '{"metadata": {}}');
      expect(errorOf(() => readCheckpointTensors(directory)).location).toEqual({ file: indexOf(directory), key: 'weight_map' });
      fs.writeFileSync(indexOf(directory), '{"weight_map": {"w": "../elsewhere.safetensors"}}');
      expect(errorOf(() => readCheckpointTensors(directory)).location).toEqual({ file: indexOf(directory), key: 'weight_map.w' });
      const empty = temporaryDirectory();
      const missing = errorOf(() => readCheckpointTensors(empty));
      expect(missing.kind).toBe('not-found');
      expect(missing.message).toContain('no model.safetensors or model.safetensors.index.json');
      expect(errorOf(() => readCheckpointTensors(path.join(empty, 'nope'))).kind).toBe('not-found');
    });
  });
});

describe('strict validation: every bad file is named, with the tensor or key', () => {
  const directory = temporaryDirectory();
  const f32 = (shape: number[], begin: number): { dtype: string; shape: number[]; data_offsets: [number, number] } => {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    return { dtype: 'F32', shape, data_offsets: [begin, begin + bytes] };
  };

  function expectInvalid(file: string, key: string | undefined, fragment: string, read: (file: string) => unknown = readSafetensors): ZsdError {
    const error = errorOf(() => read(file));
    expect(error.kind).toBe('invalid-file');
    expect(error.location).toEqual(key === undefined ? { file } : { file, key });
    expect(error.message).toContain(file);
    if (key !== undefined) expect(error.message).toContain(key);
    expect(error.message).toContain(fragment);
    return error;
  }

  it('a file shorter than the 8-byte length', () => {
    const file = path.join(directory, 'short.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectInvalid(file, undefined, 'file has 3 bytes');
  });

  it('a header length larger than the file (truncated file)', () => {
    expectInvalid(rawFile(directory, 'long-header.safetensors', {}, new Uint8Array(0), 1000n), undefined, 'header length 1000 runs past the end of the file');
    expectInvalid(rawFile(directory, 'huge-header.safetensors', {}, new Uint8Array(0), 2n ** 63n), undefined, 'runs past the end', readSafetensorsHeader);
  });

  it('a header that is not JSON, not UTF-8, or not an object', () => {
    const header = JSON.stringify({ w: f32([2], 0) });
    expectInvalid(rawFile(directory, 'cut.safetensors', header.slice(0, 20), new Uint8Array(8)), undefined, 'is not valid JSON');
    const file = rawFile(directory, 'latin1.safetensors', '{"w":1}', new Uint8Array(0));
    const bytes = fs.readFileSync(file);
    bytes[10] = 0xff;
    fs.writeFileSync(file, bytes);
    expectInvalid(file, undefined, 'not valid UTF-8');
    expectInvalid(rawFile(directory, 'array.safetensors', '[1, 2]'), undefined, 'not a JSON object', readSafetensorsHeader);
  });

  it('an unknown dtype, a bad shape, bad offsets', () => {
    expectInvalid(
      rawFile(directory, 'dtype.safetensors', { w: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      'w',
      'unknown dtype "F17"',
    );
    expectInvalid(rawFile(directory, 'shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'w', 'shape [-1]');
    expectInvalid(
      rawFile(directory, 'offsets.safetensors', { w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)),
      'w',
      'data_offsets [4,0]',
    );
    expectInvalid(rawFile(directory, 'entry.safetensors', { w: 'F32' }), 'w', 'tensor entry is "F32"');
  });

  it('offsets that do not match dtype size x element count', () => {
    const header = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } };
    expectInvalid(rawFile(directory, 'size.safetensors', header, new Uint8Array(12)), 'w', 'span 12 bytes; expected 16 bytes (F32 x shape [2,2] = 4 elements)');
    const f16 = { h: { dtype: 'F16', shape: [3], data_offsets: [0, 4] } };
    expectInvalid(rawFile(directory, 'size16.safetensors', f16, new Uint8Array(4)), 'h', 'expected 6 bytes');
  });

  it('offsets past the end of the data (a truncated file)', () => {
    const file = path.join(directory, 'whole.safetensors');
    writeSafetensors(file, [
      ['a', { shape: [4], data: new Float32Array(4) }],
      ['b', { shape: [4], data: new Float32Array(4) }],
    ]);
    const truncated = path.join(directory, 'truncated.safetensors');
    fs.writeFileSync(truncated, fs.readFileSync(file).subarray(0, fs.statSync(file).size - 3));
    expectInvalid(truncated, 'b', 'data_offsets [16, 32] run past the end of the 29-byte data buffer');
    expectInvalid(truncated, 'b', 'run past the end', readSafetensorsHeader);
  });

  it('overlapping tensors, a gap between tensors, bytes after the last tensor', () => {
    const overlap = { a: f32([4], 0), b: f32([4], 8) };
    expectInvalid(rawFile(directory, 'overlap.safetensors', overlap, new Uint8Array(24)), 'b', 'overlap tensor a at [0, 16]');
    const gap = { a: f32([2], 0), b: f32([2], 12) };
    expectInvalid(rawFile(directory, 'gap.safetensors', gap, new Uint8Array(20)), 'b', 'bytes 8..12 of the data buffer (after tensor a) belong to no tensor');
    const late = { a: f32([2], 4) };
    expectInvalid(rawFile(directory, 'late.safetensors', late, new Uint8Array(12)), 'a', 'at the start of the data buffer');
    const trailing = { a: f32([2], 0) };
    expectInvalid(rawFile(directory, 'trailing.safetensors', trailing, new Uint8Array(12)), 'a', 'the data buffer has 12 bytes but the tensors end at 8');
  });

  it('metadata that is not an object of strings', () => {
    expectInvalid(rawFile(directory, 'meta.safetensors', { __metadata__: { format: 'pt', step: 5 } }), '__metadata__.step', 'expected a string');
    expectInvalid(rawFile(directory, 'meta2.safetensors', { __metadata__: ['pt'] }), '__metadata__', 'expected an object of string values');
  });

  it('a dtype the reader cannot widen is listed by the header but refused by readSafetensors', () => {
    const file = rawFile(directory, 'complex.safetensors', { c: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    expect(readSafetensorsHeader(file).tensors.c.dtype).toBe('C64');
    expectInvalid(file, 'c', 'dtype C64, which cannot be read as float32');
  });

  it('a missing file', () => {
    const file = path.join(directory, 'absent.safetensors');
    const error = errorOf(() => readSafetensors(file));
    expect(error.kind).toBe('not-found');
    expect(error.location).toEqual({ file });
  });

  it('accepts empty tensors sharing an offset, as the reference writer produces', () => {
    const header = { e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, a: f32([1], 0), z: { dtype: 'F16', shape: [0, 2], data_offsets: [4, 4] } };
    const tensors = readSafetensors(rawFile(directory, 'empties.safetensors', header, new Uint8Array(4)));
    expect([...tensors.keys()]).toEqual(['e', 'a', 'z']);
  });
});
