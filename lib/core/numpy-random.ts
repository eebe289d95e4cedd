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
      throw new ZsdError(
        'usage',
        `numpy seed must be an integer between 0 and 2**32 - 1, got ${String(seed)}`,
      );
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
      throw new ZsdError(
        'usage',
        `randomInterval needs an integer between 0 and ${Number.MAX_SAFE_INTEGER}, got ${String(max)}`,
      );
    }
    if (max === 0) return 0; // numpy returns without drawing
    if (max <= 0xffffffff) {
      let mask = max;
      mask |= mask >>> 1;
      mask |= mask >>> 2;
      mask |= mask >>> 4;
      mask |= mask >>> 8;
      mask |= mask >>> 16;
      mask >>>= 0;
      let value: number;
      do {
        value = (this.nextUint32() & mask) >>> 0;
      } while (value > max);
      return value;
    }
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
    for (let index = items.length - 1; index > 0; index--) {
      const other = this.randomInterval(index);
      const held = items[index];
      items[index] = items[other];
      items[other] = held;
    }
    return items;
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
