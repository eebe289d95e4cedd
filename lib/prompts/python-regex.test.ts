import { compilePythonRegex, PythonRegexError, translatePythonRegex } from './python-regex';

// Expected matches were checked with CPython 3.11 `re.search(pattern, text, re.I | re.S)` (or without flags
// where a test says so).

const STRICT = { ignoreCase: false, dotAll: false };

/** Python's `m.group(0), *m.groups()` or null, from a compiled pattern. */
function search(pattern: string, text: string, options?: { ignoreCase?: boolean; dotAll?: boolean }): (string | undefined)[] | null {
  const match = compilePythonRegex(pattern, options).exec(text);
  return match ? [...match] : null;
}

function errorFor(pattern: string): PythonRegexError {
  try {
    translatePythonRegex(pattern);
  } catch (error) {
    if (error instanceof PythonRegexError) return error;
    throw error;
  }
  throw new Error(`expected ${pattern} to be rejected`);
}

describe('braces', () => {
  test('"{" that does not form a quantifier is a literal', () => {
    expect(translatePythonRegex('a{b')).toBe('a\\{b');
    expect(search('a{b', 'xa{b')).toEqual(['a{b']);
    expect(search('a{}', 'a{}')).toEqual(['a{}']);
  });

  test('"{" inside a class is a literal, next to an escaped "$" and "€"', () => {
    const regex = compilePythonRegex('[\\s{\\$€]');
    expect(['{', '$', '€', ' ', '\u001f'].map((character) => regex.test(character))).toEqual([true, true, true, true, true]);
    expect(regex.test('x')).toBe(false);
  });

  test('a brace quantifier stays a quantifier', () => {
    expect(translatePythonRegex('\\d{2}')).toBe('\\p{Nd}{2}');
    expect(search('\\d{2}', 'a1b22')).toEqual(['22']);
    expect(search('a{2,}', 'a aaa')).toEqual(['aaa']);
  });

  test('"{,n}" means "{0,n}"', () => {
    expect(translatePythonRegex('x{,3}y')).toBe('x{0,3}y');
    expect(search('x{,3}y', 'xxxxy')).toEqual(['xxxy']);
  });
});

describe('Unicode character classes, as Python 3 str patterns', () => {
  test('\\w matches accented letters and "_", so \\w+ takes "café" whole', () => {
    expect(search('\\w+', 'café au lait')).toEqual(['café']);
    expect(search('\\w+', 'naïve_x1')).toEqual(['naïve_x1']);
  });

  test('\\d matches any decimal digit, such as Arabic-Indic "٣", but not superscript "²"', () => {
    expect(search('\\d', 'abc ٣')).toEqual(['٣']);
    expect(search('\\d', 'x²y')).toBeNull();
    expect(search('\\D+', 'ab٣')).toEqual(['ab']);
  });

  test('\\s matches U+001F and U+00A0 but not U+FEFF', () => {
    expect(search('\\s', 'a\u001fb')).toEqual(['\u001f']);
    expect(search('a\\s+b', 'a\u00a0\u2003b')).toEqual(['a\u00a0\u2003b']);
    expect(search('\\s', 'a\ufeffb')).toBeNull();
    expect(search('\\S+', '\u00a0ab\u001fcd')).toEqual(['ab']);
  });

  test('\\b treats accented letters as word characters', () => {
    expect(search('\\bcat\\b', 'écat')).toBeNull();
    expect(search('\\bcat\\b', 'the cat.')).toEqual(['cat']);
    expect(search('\\Bat', 'cat')).toEqual(['at']);
  });
});

describe('escapes', () => {
  test('escaped punctuation that JavaScript Unicode mode rejects compiles to the character', () => {
    expect(translatePythonRegex('\\€')).toBe('€');
    expect(translatePythonRegex('\\-')).toBe('-');
    expect(search('\\€(\\d+)', 'costs €5')).toEqual(['€5', '5']);
    expect(search('[a\\-z]+', 'a-z-q')).toEqual(['a-z-']);
  });

  test('hex escapes and a "]" right after "[" are read as Python reads them', () => {
    expect(search('\\x41', 'a')).toEqual(['a']);
    expect(search('[]a]+', ']a]b')).toEqual([']a]']);
  });
});

describe('groups and anchors', () => {
  test('(?P<name>...) and (?P=name) become a named group and its back-reference', () => {
    expect(translatePythonRegex('(?P<name>x)(?P=name)')).toBe('(?<name>x)\\k<name>');
    expect(search('(?P<q>[\'"]).*?(?P=q)', "say 'hi\" now' ok")).toEqual(["'hi\" now'", "'"]);
    expect(compilePythonRegex('(?P<name>x)(?P=name)').exec('axxb')?.groups).toEqual({ name: 'x' });
  });

  test('$ also matches before a final newline, but not before other text', () => {
    expect(search('a$', 'a\n')).toEqual(['a']);
    expect(search('a$', 'a\n\n')).toBeNull();
    expect(search('a$', 'ab')).toBeNull();
  });

  test('\\A and \\Z anchor the whole text, \\Z not before a final newline', () => {
    expect(search('\\Aab', 'ab')).toEqual(['ab']);
    expect(search('ab\\Z', 'ab\n')).toBeNull();
  });

  test('a comment group and inline i / s flags (already the defaults) are dropped', () => {
    expect(translatePythonRegex('(?#note)a')).toBe('a');
    expect(translatePythonRegex('(?is)a')).toBe('a');
  });
});

describe('flags', () => {
  test('by default the pattern is case-insensitive and "." matches "\\n"', () => {
    expect(search('ABC', 'xabcx')).toEqual(['abc']);
    expect(search('a.b', 'a\nb')).toEqual(['a\nb']);
  });

  test('without the flags, case matters and "." excludes only "\\n" (not "\\r", unlike JavaScript)', () => {
    expect(search('ABC', 'xabcx', STRICT)).toBeNull();
    expect(search('a.b', 'a\nb', STRICT)).toBeNull();
    expect(search('a.b', 'a\rb', STRICT)).toEqual(['a\rb']);
    expect(search('a.b', 'a\u2028b', STRICT)).toEqual(['a\u2028b']);
    expect(search('a[.]b', 'a\rb', STRICT)).toBeNull();
  });
});

describe('unsupported constructs are rejected with a PythonRegexError', () => {
  test.each([
    ['a*+', /possessive/, 2],
    ['a++', /possessive/, 2],
    ['a{1,2}+', /possessive/, 6],
    ['(?>x)', /atomic groups/, 0],
    ['[\\W]', /\\W inside a character class/, 1],
    ['\\q', /bad escape \\q/, 0],
    ['(?m)^a', /inline flags \(\?m\)/, 0],
    ['[abc', /unterminated character set/, 0],
    ['a\\', /lone backslash/, 1],
  ])('%s', (pattern, message, position) => {
    const error = errorFor(pattern);
    expect(error.name).toBe('PythonRegexError');
    expect(error.message).toMatch(message);
    expect(error.position).toBe(position);
    expect(() => compilePythonRegex(pattern)).toThrow(PythonRegexError);
  });
});

describe('the study patterns', () => {
  // cqa.yaml template 3: label_parse + explanation_parse, choice values interpolated with "(" and ")" escaped.
  const CQA_LABEL = '({choice_a}|{choice_b}|{choice_c}|{choice_d}|{choice_e}|a\\)|b\\)|c\\)|d\\)|e\\)|1\\)|2\\)|3\\)|4\\)|5\\)|1\\.|2\\.|3\\.|4\\.|5\\.)';
  const CQA_EXPLANATION = '.?(.*)';

  function cqaPattern(choices: string[]): string {
    const values: Record<string, string> = Object.fromEntries(
      choices.map((choice, index) => [`choice_${'abcde'[index]}`, choice.replace(/\(/g, '\\(').replace(/\)/g, '\\)')]),
    );
    return (CQA_LABEL + CQA_EXPLANATION).replace(/\{(choice_[a-e])\}/g, (_, name: string) => values[name]);
  }

  test('cqa: the first identifier or choice text is the label, the rest the explanation (recorded test row 542)', () => {
    const pattern = cqaPattern(['lose money', 'fun', 'have no money', 'broken law', 'relaxation']);
    const response = 'The correct answer is (d) broken law because James was engaging in an illegal activity by purchasing alcohol for minors.';
    expect(search(pattern, response)).toEqual([
      'd) broken law because James was engaging in an illegal activity by purchasing alcohol for minors.',
      'd)',
      'broken law because James was engaging in an illegal activity by purchasing alcohol for minors.',
    ]);
  });

  test('cqa: a choice text matches case-insensitively', () => {
    const pattern = cqaPattern(['Fun', 'sad', 'wet', 'dry', 'cold']);
    expect(search(pattern, 'FUN, since games are fun.')?.slice(1)).toEqual(['FUN', ' since games are fun.']);
  });

  test('cqa: a choice text with escaped parentheses compiles and matches literally', () => {
    const pattern = cqaPattern(['bank (building)', 'river', 'tree', 'car', 'sky']);
    expect(search(pattern, 'I would say bank (building) here.')?.slice(1)).toEqual(['bank (building)', 'here.']);
  });

  test('svamp: (.+[\\s{\\$€])(\\d*\\.?\\d+) takes the number after "\\boxed{" as the label (recorded test row 95)', () => {
    const response =
      'If they put 10 seeds in each flower bed and planted 60 seeds altogether, then they must have had 60/10 = <<60/10=6>>6 flower beds. Answer: \\boxed{6}.';
    const match = search('(.+[\\s{\\$€])(\\d*\\.?\\d+)', response);
    expect(match?.[2]).toBe('6');
    expect(match?.[1]).toBe(
      'If they put 10 seeds in each flower bed and planted 60 seeds altogether, then they must have had 60/10 = <<60/10=6>>6 flower beds. Answer: \\boxed{',
    );
  });

  test('svamp: a decimal after "$" on a later line is the label', () => {
    expect(search('(.+[\\s{\\$€])(\\d*\\.?\\d+)', 'She spent $12.50 on lunch.\nAnswer: $12.50')?.slice(1)).toEqual([
      'She spent $12.50 on lunch.\nAnswer: $',
      '12.50',
    ]);
  });
});
