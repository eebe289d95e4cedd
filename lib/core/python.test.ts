import {
  codePointLength,
  pythonIsLowerCharacter,
  pythonJsonDumps,
  pythonLstrip,
  pythonRound,
  pythonRstrip,
  pythonSplitWhitespace,
  pythonStrip,
  pythonWordCount,
} from './python';

// Expected values below were computed with CPython 3.11 (`round`, `len`, `str.split`, `str.strip`, `str.islower`).

describe('pythonRound', () => {
  test('a tie that is exact in binary rounds half to even', () => {
    expect(pythonRound(0.125, 2)).toBe(0.12);
    expect(pythonRound(0.375, 2)).toBe(0.38);
    expect(pythonRound(0.5, 0)).toBe(0);
    expect(pythonRound(1.5, 0)).toBe(2);
    expect(pythonRound(2.5, 0)).toBe(2);
  });

  test('a decimal "tie" that is below the tie in binary rounds down', () => {
    // 2.675 is stored as 2.67499999999999982236431605997495353221893310546875.
    expect(pythonRound(2.675, 2)).toBe(2.67);
    expect(pythonRound(1.005, 2)).toBe(1);
    expect(pythonRound(5.015, 2)).toBe(5.01);
    expect(pythonRound(0.285, 2)).toBe(0.28);
  });

  test('values that are not ties round to the nearest', () => {
    expect(pythonRound(1687.2544, 3)).toBe(1687.254);
    expect(pythonRound(0.6666666666, 4)).toBe(0.6667);
    expect(pythonRound(12.3456, 1)).toBe(12.3);
    expect(pythonRound(0.1 + 0.2, 2)).toBe(0.3);
    expect(pythonRound(123, 2)).toBe(123);
  });

  test('negative values round symmetrically to the positive ones', () => {
    expect(pythonRound(-0.125, 2)).toBe(-0.12);
    expect(pythonRound(-2.675, 2)).toBe(-2.67);
    expect(pythonRound(-1.5, 0)).toBe(-2);
    expect(pythonRound(-2.5, 0)).toBe(-2);
    expect(pythonRound(-1687.2544, 3)).toBe(-1687.254);
  });

  test('NaN and infinities pass through unchanged', () => {
    expect(pythonRound(Number.NaN, 2)).toBeNaN();
    expect(pythonRound(Number.POSITIVE_INFINITY, 1)).toBe(Number.POSITIVE_INFINITY);
    expect(pythonRound(Number.NEGATIVE_INFINITY, 1)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('codePointLength', () => {
  test('counts an astral character as one, as Python len()', () => {
    expect('😀'.length).toBe(2);
    expect(codePointLength('😀')).toBe(1);
    expect(codePointLength('a😀b')).toBe(3);
  });

  test('counts combining marks and lone surrogates as their own code points', () => {
    expect(codePointLength('e\u0301')).toBe(2);
    expect(codePointLength('\ud83d')).toBe(1);
    expect(codePointLength('')).toBe(0);
  });
});

describe('pythonSplitWhitespace and pythonWordCount', () => {
  test('U+00A0 and U+001F separate words, U+FEFF does not', () => {
    expect(pythonSplitWhitespace('a\u00a0b\u001fc\ufeffd  e')).toEqual(['a', 'b', 'c\ufeffd', 'e']);
  });

  test('runs of whitespace at the ends and inside give no empty words', () => {
    expect(pythonSplitWhitespace('  one \t two\n\nthree  ')).toEqual(['one', 'two', 'three']);
    expect(pythonSplitWhitespace('')).toEqual([]);
    expect(pythonSplitWhitespace(' \n ')).toEqual([]);
  });

  test('word count is the number of split parts, Unicode spaces included', () => {
    expect(pythonWordCount(' x \u00a0y\u2003z ')).toBe(3);
    expect(pythonWordCount('a\u0085b')).toBe(2);
    expect(pythonWordCount('zero\u200bwidth')).toBe(1);
  });
});

describe('pythonStrip, pythonLstrip, pythonRstrip', () => {
  test('strip removes Python whitespace, including U+00A0 and U+001F, from both ends only', () => {
    expect(pythonStrip('\u00a0 \t x y\n\u001f')).toBe('x y');
  });

  test('strip keeps U+FEFF, which JavaScript trim() would remove', () => {
    expect(pythonStrip('\ufeffx\ufeff')).toBe('\ufeffx\ufeff');
    expect('\ufeffx\ufeff'.trim()).toBe('x');
  });

  test('lstrip removes only leading and rstrip only trailing whitespace', () => {
    expect(pythonLstrip('  a b  ')).toBe('a b  ');
    expect(pythonRstrip('  a b \n')).toBe('  a b');
  });
});

describe('pythonIsLowerCharacter', () => {
  test.each([
    ['a', true],
    ['é', true],
    ['ß', true],
    ['A', false],
    ['É', false],
    ['1', false],
    ['_', false],
    [' ', false],
  ])('%j.islower() is %s', (character, expected) => {
    expect(pythonIsLowerCharacter(character)).toBe(expected);
  });
});

describe('pythonJsonDumps', () => {
  test('matches json.dumps: ", " and ": " separators, non-ASCII and DEL as lowercase \\u escapes, surrogate pairs', () => {
    // python3 -c 'import json; print(json.dumps({"label": "x\u00e9\U0001F600\x7f\x01\"\\\\", "explanation": None}))'
    expect(pythonJsonDumps({ label: 'x\u00e9\u{1F600}\u007f\u0001"\\', explanation: null })).toBe(
      '{"label": "x\\u00e9\\ud83d\\ude00\\u007f\\u0001\\"\\\\", "explanation": null}',
    );
    expect(pythonJsonDumps([1, true, 'a\nb\t'])).toBe('[1, true, "a\\nb\\t"]');
  });

  test('refuses a float, whose Python repr could differ', () => {
    expect(() => pythonJsonDumps(0.1)).toThrow(/not an integer/);
  });
});
