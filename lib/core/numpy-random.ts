/**
 * numpy's legacy random generator (`np.random.seed`, `np.random.shuffle`, `np.random.random`, i.e.
 * `numpy.random.RandomState` over MT19937), ported exactly.
 *
 * Why: the study assigned prompt-mix rows with `np.random.seed(seed); np.random.shuffle(idx)` and subsampled
 * explanations with `np.random.seed(100)` and one `np.random.random()` per explained row. zsd must regenerate
 * those training files bit for bit, so it needs the same generator, the same seeding and the same rejection
 * sampler, not merely "a" seeded shuffle.
 *
 * Behaviour checked against numpy 2.4 (expected values in numpy-random.test.ts):
 * - `seed(int)` runs MT19937 `init_genrand` (Knuth's recurrence) on the seed; an array seed would run
 *   `init_by_array` and give a different state, so only integer seeds in [0, 2**32) are accepted here.
 *   After seeding, numpy's position is 624: the first draw regenerates the whole block.
 * - `random()` builds a 53-bit double from two consecutive 32-bit outputs.
 * - `shuffle` is Fisher-Yates from the end, `j = random_interval(i)`, where `random_interval` draws masked
 *   values until one is <= i (rejections consume draws, so they matter for every later number).
 */

import { ZsdError } from './errors';

const STATE_LENGTH = 624;
const SHIFT_OFFSET = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_TO_THE_32 = 4294967296;

export interface NumpyRandomStateSnapshot {
  /** The 624-word key, as `RandomState.get_state()[1]`. */
  key: Uint32Array;
  /** Index of the next word to temper, as `RandomState.get_state()[2]` (624 means "regenerate first"). */
  position: number;
}

export class NumpyRandomState {
  private readonly key = new Uint32Array(STATE_LENGTH);
  private position = STATE_LENGTH;

  /** Same state as `np.random.seed(seed)` / `np.random.RandomState(seed)` for an integer seed. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ZsdError('usage', `numpy seed must be an integer between 0 and 2**32 - 1, got ${String(seed)}`);
    }
    const key = this.key;
    key[0] = seed >>> 0;
    for (let index = 1; index < STATE_LENGTH; index++) {
      const previous = key[index - 1];
      // Math.imul keeps the product mod 2**32 without losing bits to floating point.
      key[index] = (Math.imul(1812433253, previous ^ (previous >>> 30)) + index) >>> 0;
    }
  }

  /** A copy of the internal state, for comparison with numpy's `get_state()`. */
  getState(): NumpyRandomStateSnapshot {
    return { key: this.key.slice(), position: this.position };
  }

  /** The next raw 32-bit output (MT19937 with standard tempering). */
  nextUint32(): number {
    if (this.position >= STATE_LENGTH) this.regenerate();
    let value = this.key[this.position++];
    value ^= value >>> 11;
    value ^= (value << 7) & 0x9d2c5680;
    value ^= (value << 15) & 0xefc60000;
    value ^= value >>> 18;
    return value >>> 0;
  }

  /** `np.random.random()`: a double in [0, 1) with 53 random bits, from two 32-bit outputs. */
  random(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /**
   * numpy's `random_interval(max)`: an integer in [0, max], inclusive, by masked rejection sampling.
   * Up to 2**32 - 1 it draws one 32-bit output per try; above, numpy draws 64 bits (first output high),
   * reproduced here up to Number.MAX_SAFE_INTEGER.
   */
  randomInterval(max: number): number {
    if (!Number.isInteger(max) || max < 0 || max > Number.MAX_SAFE_INTEGER) {
      throw new ZsdError('usage', `randomInterval needs an integer between 0 and ${Number.MAX_SAFE_INTEGER}, got ${String(max)}`);
    }
    if (max === 0) return 0; // numpy returns without drawing
    if (max <= 0xffffffff) return randomInterval32(max, () => this.nextUint32());
    // 64-bit path: the mask's low 32 bits are all ones, so only the high word needs masking.
    let highMask = 1;
    while (highMask * TWO_TO_THE_32 + (TWO_TO_THE_32 - 1) < max) highMask = highMask * 2 + 1;
    let value: number;
    do {
      const high = (this.nextUint32() & highMask) >>> 0;
      const low = this.nextUint32();
      value = high * TWO_TO_THE_32 + low;
    } while (value > max);
    return value;
  }

  /** `np.random.shuffle(items)` for a list or 1-d array: in place, returns the same array. */
  shuffle<T>(items: T[]): T[] {
    return fisherYatesShuffle(items, (max) => this.randomInterval(max));
  }

  private regenerate(): void {
    const key = this.key;
    let index = 0;
    for (; index < STATE_LENGTH - SHIFT_OFFSET; index++) {
      const mixed = (key[index] & UPPER_MASK) | (key[index + 1] & LOWER_MASK);
      key[index] = key[index + SHIFT_OFFSET] ^ (mixed >>> 1) ^ (mixed & 1 ? MATRIX_A : 0);
    }
    for (; index < STATE_LENGTH - 1; index++) {
      const mixed = (key[index] & UPPER_MASK) | (key[index + 1] & LOWER_MASK);
      key[index] = key[index + SHIFT_OFFSET - STATE_LENGTH] ^ (mixed >>> 1) ^ (mixed & 1 ? MATRIX_A : 0);
    }
    const mixed = (key[STATE_LENGTH - 1] & UPPER_MASK) | (key[0] & LOWER_MASK);
    key[STATE_LENGTH - 1] = key[SHIFT_OFFSET - 1] ^ (mixed >>> 1) ^ (mixed & 1 ? MATRIX_A : 0);
    this.position = 0;
  }
}

/** What `np.random.seed(seed); idx = list(range(n)); np.random.shuffle(idx)` leaves in `idx`. */
export function numpyPermutationOfRange(n: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new ZsdError('usage', `permutation length must be a non-negative integer, got ${String(n)}`);
  }
  const indices = Array.from({ length: n }, (_, index) => index);
  return new NumpyRandomState(seed).shuffle(indices);
}

// ---------------------------------------------------------------------------------------------------------------
// numpy's `default_rng` (SeedSequence -> PCG64 -> Generator), the generator Hugging Face datasets shuffles with.
// Above is the legacy MT19937 RandomState; this is the other numpy generator. Checked against
// numpy 1.24.2 and 2.4.6 (lib/student/fixtures/training-data-numpy.json, made by training-data-numpy-fixture.py).

const MASK32 = 0xffffffff;
const SEED_SEQUENCE_POOL_SIZE = 4;
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
const PCG_MULTIPLIER = (0x2360ed051fc65da4n << 64n) | 0x4385df649fccf645n;

/** `np.random.SeedSequence(entropy).generate_state(nWords, np.uint32)` for non-negative integer entropy (or a list of them). */
export function seedSequenceState(entropy: number | readonly number[], nWords: number): Uint32Array {
  const words: number[] = [];
  for (const value of typeof entropy === 'number' ? [entropy] : entropy) {
    if (!Number.isSafeInteger(value) || value < 0) throw new ZsdError('usage', `numpy seeds are non-negative integers, got ${String(value)}`);
    // _int_to_uint32_array: little-endian 32-bit words, [0] for 0.
    let rest = value;
    do {
      words.push(rest % 2 ** 32);
      rest = Math.floor(rest / 2 ** 32);
    } while (rest > 0);
  }
  let hashConst = INIT_A;
  const hashmix = (input: number): number => {
    let value = (input ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const result = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (result ^ (result >>> 16)) >>> 0;
  };
  const pool = new Uint32Array(SEED_SEQUENCE_POOL_SIZE);
  for (let index = 0; index < pool.length; index++) pool[index] = hashmix(index < words.length ? words[index] : 0);
  for (let source = 0; source < pool.length; source++) {
    for (let target = 0; target < pool.length; target++) {
      if (source !== target) pool[target] = mix(pool[target], hashmix(pool[source]));
    }
  }
  for (let source = pool.length; source < words.length; source++) {
    for (let target = 0; target < pool.length; target++) pool[target] = mix(pool[target], hashmix(words[source]));
  }
  const state = new Uint32Array(nWords);
  let generateConst = INIT_B;
  for (let index = 0; index < nWords; index++) {
    let value = (pool[index % pool.length] ^ generateConst) >>> 0;
    generateConst = Math.imul(generateConst, MULT_B) >>> 0;
    value = Math.imul(value, generateConst) >>> 0;
    state[index] = (value ^ (value >>> 16)) >>> 0;
  }
  return state;
}

/** numpy's `Generator(PCG64(seed))`: the parts Hugging Face datasets' shuffles use. */
export class NumpyGenerator {
  private state = 0n;
  private readonly increment: bigint;
  private bufferedUint32: number | undefined;

  /** `np.random.default_rng(seed)`; a list seed as numpy's (e.g. `[seed, epoch]`). */
  static defaultRng(seed: number | readonly number[]): NumpyGenerator {
    const words = seedSequenceState(seed, 8);
    const word64 = (index: number): bigint => (BigInt(words[2 * index + 1]) << 32n) | BigInt(words[2 * index]);
    return new NumpyGenerator((word64(0) << 64n) | word64(1), (word64(2) << 64n) | word64(3));
  }

  /** PCG64 `pcg_setseq_128_srandom_r(initState, initSequence)`. */
  constructor(initState: bigint, initSequence: bigint) {
    this.increment = ((initSequence << 1n) | 1n) & MASK128;
    this.step();
    this.state = (this.state + initState) & MASK128;
    this.step();
  }

  /** The 128-bit state and increment, as `PCG64.state['state']`. */
  get pcgState(): { state: bigint; inc: bigint } {
    return { state: this.state, inc: this.increment };
  }

  /** `random_raw()`: XSL-RR output of the stepped state. */
  nextUint64(): bigint {
    this.step();
    const high = this.state >> 64n;
    const xored = (high ^ this.state) & MASK64;
    const rotation = high >> 58n;
    return ((xored >> rotation) | (xored << ((64n - rotation) & 63n))) & MASK64;
  }

  /** numpy's `pcg64_next32`: the low half of a 64-bit output, the high half kept for the next call. */
  nextUint32(): number {
    if (this.bufferedUint32 !== undefined) {
      const value = this.bufferedUint32;
      this.bufferedUint32 = undefined;
      return value;
    }
    const next = this.nextUint64();
    this.bufferedUint32 = Number(next >> 32n);
    return Number(next & 0xffffffffn);
  }

  /** numpy's `random_interval(max)`: masked rejection sampling in [0, max]. */
  randomInterval(max: number): number {
    if (max === 0) return 0;
    if (max <= MASK32) return randomInterval32(max, () => this.nextUint32());
    const bigMax = BigInt(max);
    let mask = bigMax;
    for (const shift of [1n, 2n, 4n, 8n, 16n, 32n]) mask |= mask >> shift;
    let value: bigint;
    do value = this.nextUint64() & mask;
    while (value > bigMax);
    return Number(value);
  }

  /** `Generator.shuffle` of a 1-d array: Fisher-Yates from the end with `random_interval(i)`. */
  shuffle<T>(items: T[]): T[] {
    return fisherYatesShuffle(items, (max) => this.randomInterval(max));
  }

  /** `Generator.permutation(n)`. */
  permutation(n: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new ZsdError('usage', `permutation length must be a non-negative integer, got ${String(n)}`);
    return this.shuffle(Array.from({ length: n }, (_, index) => index));
  }

  private step(): void {
    this.state = (this.state * PCG_MULTIPLIER + this.increment) & MASK128;
  }
}

/** numpy's masked rejection sampling in [0, max] for max below 2**32: one 32-bit draw per try (both generators). */
function randomInterval32(max: number, nextUint32: () => number): number {
  let mask = max;
  mask |= mask >>> 1;
  mask |= mask >>> 2;
  mask |= mask >>> 4;
  mask |= mask >>> 8;
  mask |= mask >>> 16;
  mask >>>= 0;
  let value: number;
  do value = (nextUint32() & mask) >>> 0;
  while (value > max);
  return value;
}

/** numpy's shuffle of a 1-d array (both generators): Fisher-Yates from the end, swapping with `random_interval(i)`. */
function fisherYatesShuffle<T>(items: T[], randomInterval: (max: number) => number): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = randomInterval(index);
    const held = items[index];
    items[index] = items[other];
    items[other] = held;
  }
  return items;
}
