import { ZsdError } from './errors';
import { NumpyRandomState, numpyPermutationOfRange } from './numpy-random';
import { thrownBy } from '../test-support/fixtures';

// Every expected value below was computed with numpy 2.4.6 (legacy `np.random` / `RandomState`), e.g.
// `np.random.RandomState(s).get_state()[1]`, `._bit_generator.random_raw(n)`, and for `random_interval` the C
// function from numpy's libnpyrandom.a called on a RandomState's bit generator.

/** sum(index * value): one number that changes if any two positions swap. */
function positionChecksum(values: number[]): number {
  return values.reduce((sum, value, index) => sum + index * value, 0);
}

describe('NumpyRandomState seeding (np.random.seed with an integer = init_genrand)', () => {
  test.each([
    [0, { 0: 0, 1: 1, 2: 1812433255, 311: 200524822, 622: 3048484911, 623: 1796872496 }],
    [42, { 0: 42, 1: 3107752595, 2: 1895908407, 311: 1303595780, 622: 836540831, 623: 26719530 }],
    [405, { 0: 405, 1: 3891027146, 2: 1399270479, 311: 2298886300, 622: 3643075333, 623: 1652617677 }],
    [100, { 0: 100, 1: 854698869, 2: 2051883563, 311: 453524078, 622: 201919195, 623: 1180532182 }],
  ])('seed %i gives the key of get_state()[1]', (seed, expectedWords) => {
    const { key, position } = new NumpyRandomState(seed).getState();
    expect(key).toHaveLength(624);
    for (const [index, word] of Object.entries(expectedWords)) {
      expect([Number(index), key[Number(index)]]).toEqual([Number(index), word]);
    }
    // numpy leaves pos at 624, so the first draw regenerates the block.
    expect(position).toBe(624);
  });

  test('getState returns a copy that drawing does not change', () => {
    const random = new NumpyRandomState(0);
    const before = random.getState();
    random.nextUint32();
    expect(before.key[1]).toBe(1);
    expect(before.position).toBe(624);
    expect(random.getState().position).toBe(1);
  });

  test('the largest seed, 2**32 - 1, is accepted and matches numpy', () => {
    const random = new NumpyRandomState(2 ** 32 - 1);
    expect([random.random(), random.random()]).toEqual([0.0976320289940138, 0.9123828453026218]);
  });

  test.each([-1, 1.5, 2 ** 32, Number.NaN, Number.POSITIVE_INFINITY])('seed %p is rejected as numpy rejects it', (seed) => {
    const error = thrownBy(() => new NumpyRandomState(seed));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('usage');
    expect((error as ZsdError).message).toMatch(/integer between 0 and 2\*\*32 - 1/);
  });
});

describe('NumpyRandomState.nextUint32 (tempered MT19937 output)', () => {
  test('seed 5489 gives the reference MT19937 sequence, across two regenerations', () => {
    const random = new NumpyRandomState(5489);
    const outputs = Array.from({ length: 1250 }, () => random.nextUint32());
    expect(outputs.slice(0, 10)).toEqual([3499211612, 581869302, 3890346734, 3586334585, 545404204, 4161255391, 3922919429, 949333985, 2715962298, 1323567403]);
    expect([outputs[623], outputs[624], outputs[625], outputs[1247], outputs[1248]]).toEqual([4020325887, 4178893912, 610818241, 2538210759, 358555951]);
  });

  test('seed 42 matches random_raw', () => {
    const random = new NumpyRandomState(42);
    const outputs = Array.from({ length: 1250 }, () => random.nextUint32());
    expect(outputs.slice(0, 10)).toEqual([
      1608637542, 3421126067, 4083286876, 787846414, 3143890026, 3348747335, 2571218620, 2563451924, 670094950, 1914837113,
    ]);
    expect([outputs[623], outputs[624], outputs[625], outputs[1247], outputs[1248]]).toEqual([1077437785, 108880612, 791707097, 1014112781, 2655384025]);
  });
});

describe('NumpyRandomState.random (legacy random_sample)', () => {
  test('seed 100: the first ten doubles, exactly', () => {
    const random = new NumpyRandomState(100);
    expect(Array.from({ length: 10 }, () => random.random())).toEqual([
      0.5434049417909654, 0.27836938509379616, 0.4245175907491331, 0.8447761323199037, 0.004718856190972565, 0.12156912078311422, 0.6707490847267786,
      0.8258527551050476, 0.13670658968495297, 0.57509332942725,
    ]);
  });

  test('seed 0: the familiar 0.5488135039273248, 0.7151893663724195, 0.6027633760716439', () => {
    const random = new NumpyRandomState(0);
    expect([random.random(), random.random(), random.random()]).toEqual([0.5488135039273248, 0.7151893663724195, 0.6027633760716439]);
  });
});

describe('NumpyRandomState.randomInterval (numpy random_interval)', () => {
  // Covers mask widths 1..32 bits, rejections, and the 64-bit path (two outputs per try, first one high).
  const maxima = [0, 1, 5, 6, 7, 8, 1000, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 - 3, Number.MAX_SAFE_INTEGER];

  test.each([
    [0, [0, 0, 5, 0, 3, 3, 359, 1819583497, 2678185683, 1277901399, 300891291096, 5236253499641228]],
    [1, [0, 1, 3, 4, 0, 5, 847, 1013994432, 396591248, 1704103302, 109688382642, 2204608513463550]],
  ])('seed %i: one draw per maximum, in order, as numpy', (seed, expected) => {
    const random = new NumpyRandomState(seed);
    expect(maxima.map((max) => random.randomInterval(max))).toEqual(expected);
  });

  test('max 0 returns 0 without consuming a draw', () => {
    const random = new NumpyRandomState(7);
    random.nextUint32();
    expect(random.randomInterval(0)).toBe(0);
    expect(random.getState().position).toBe(1);
  });

  test.each([-1, 2.5, Number.MAX_SAFE_INTEGER + 1])('max %p is rejected', (max) => {
    const error = thrownBy(() => new NumpyRandomState(0).randomInterval(max));
    expect(error).toBeInstanceOf(ZsdError);
    expect((error as ZsdError).kind).toBe('usage');
  });
});

describe('NumpyRandomState.shuffle and numpyPermutationOfRange (np.random.shuffle of range(n))', () => {
  test.each([
    [405, 1, [0]],
    [405, 2, [1, 0]],
    [405, 3, [2, 1, 0]],
    [405, 10, [9, 2, 7, 5, 1, 0, 6, 8, 3, 4]],
    [42, 1, [0]],
    [42, 2, [1, 0]],
    [42, 3, [0, 1, 2]],
    [42, 10, [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]],
    [0, 1, [0]],
    [0, 2, [1, 0]],
    [0, 3, [2, 1, 0]],
    [0, 10, [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]],
    [12345, 1, [0]],
    [12345, 2, [1, 0]],
    [12345, 3, [0, 1, 2]],
    [12345, 10, [0, 7, 3, 9, 6, 4, 1, 8, 5, 2]],
    // Seeds whose first draw is odd, so n = 2 also has a case that keeps the order.
    [1, 2, [0, 1]],
    [5, 2, [0, 1]],
  ])('seed %i, n %i', (seed, n, expected) => {
    expect(numpyPermutationOfRange(n, seed)).toEqual(expected);
  });

  test.each([
    [405, 250218180, [591, 533, 616, 455, 510, 230, 134, 312, 806, 74], [600, 518, 760, 924, 129, 632, 646, 491, 419, 621]],
    [42, 251374799, [521, 737, 740, 660, 411, 678, 626, 513, 859, 136], [121, 614, 20, 700, 71, 106, 270, 860, 435, 102]],
    [0, 247872640, [993, 859, 298, 553, 672, 971, 27, 231, 306, 706], [723, 9, 359, 707, 763, 835, 192, 629, 559, 684]],
    [12345, 247366674, [144, 833, 270, 468, 962, 186, 942, 516, 286, 458], [541, 546, 357, 382, 425, 420, 129, 285, 485, 482]],
  ])('seed %i, n 1000: checksum, first and last ten', (seed, checksum, first, last) => {
    const permutation = numpyPermutationOfRange(1000, seed);
    expect(positionChecksum(permutation)).toBe(checksum);
    expect(permutation.slice(0, 10)).toEqual(first);
    expect(permutation.slice(-10)).toEqual(last);
    expect([...permutation].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, index) => index));
  });

  test('seed 405, n 20000 (a training split): checksum, first and last ten', () => {
    const permutation = numpyPermutationOfRange(20000, 405);
    expect(positionChecksum(permutation)).toBe(1994429073239);
    expect(permutation.slice(0, 10)).toEqual([18098, 9045, 10299, 13250, 1598, 10742, 5997, 15656, 2436, 12573]);
    expect(permutation.slice(-10)).toEqual([12358, 10817, 19180, 9684, 6744, 16120, 5020, 11393, 18040, 646]);
  });

  test("a shuffle consumes exactly numpy's draws, rejections included, so later numbers still agree", () => {
    // Seed 405, n 10: nine swaps and one rejected draw leave numpy at position 10.
    const random = new NumpyRandomState(405);
    random.shuffle(Array.from({ length: 10 }, (_, index) => index));
    expect(random.getState().position).toBe(10);
    expect(random.random()).toBe(0.08397831280364065);

    const other = new NumpyRandomState(42);
    other.shuffle(Array.from({ length: 10 }, (_, index) => index));
    expect(other.random()).toBe(0.15599452033620265);
  });

  test('shuffles in place, returns the same array, and moves any element type as numpy moves a list', () => {
    const labels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const returned = new NumpyRandomState(405).shuffle(labels);
    expect(returned).toBe(labels);
    expect(labels).toEqual(['j', 'c', 'h', 'f', 'b', 'a', 'g', 'i', 'd', 'e']);
  });

  test('n 0 gives an empty permutation; a negative or fractional n is rejected', () => {
    expect(numpyPermutationOfRange(0, 405)).toEqual([]);
    expect(thrownBy(() => numpyPermutationOfRange(-1, 405))).toBeInstanceOf(ZsdError);
    expect(thrownBy(() => numpyPermutationOfRange(2.5, 405))).toBeInstanceOf(ZsdError);
    expect(thrownBy(() => numpyPermutationOfRange(10, -405))).toBeInstanceOf(ZsdError);
  });
});

describe("the study's explanation subsampling (seed 100, one random() per explained row, dropped when > rate)", () => {
  function droppedRows(rowCount: number, rate: number): number[] {
    const random = new NumpyRandomState(100);
    const dropped: number[] = [];
    for (let row = 0; row < rowCount; row++) {
      if (random.random() > rate) dropped.push(row);
    }
    return dropped;
  }

  test('rate 0.33 over 50 rows drops the rows numpy drops', () => {
    expect(droppedRows(50, 0.33)).toEqual([0, 2, 3, 6, 7, 9, 10, 15, 16, 18, 20, 21, 22, 23, 25, 28, 30, 31, 33, 35, 36, 38, 39, 40, 41, 42, 45, 46, 49]);
  });

  test('rate 0.85 over 50 rows drops the rows numpy drops', () => {
    expect(droppedRows(50, 0.85)).toEqual([10, 15, 21, 35, 36, 38, 49]);
  });
});
