/**
 * Small pieces of Python string semantics that the study's numbers depend on.
 * The study ran on Python 3: `len()` counts code points, `str.split()` and regex `\s` use Unicode
 * whitespace (a slightly different set from JavaScript's), `round()` rounds half to even on the exact
 * binary value. Reproducing its counts exactly needs these, not the JavaScript built-ins.
 */

/** Characters Python's `str.isspace()` (and `re`'s Unicode `\s`) accepts. JavaScript's `\s` adds U+FEFF and lacks U+001C-U+001F, U+0085. */
export const PYTHON_WHITESPACE_CLASS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python's Unicode `\w`: letters, digits (any numeric category) and underscore. */
export const PYTHON_WORD_CLASS = '\\p{L}\\p{N}_';

const whitespaceRun = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+`, 'u');
const leadingWhitespace = new RegExp(`^[${PYTHON_WHITESPACE_CLASS}]+`, 'u');
const trailingWhitespace = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+$`, 'u');

/** `s.split()` in Python: split on runs of whitespace, no empty strings. */
export function pythonSplitWhitespace(text: string): string[] {
  return text.split(whitespaceRun).filter((part) => part !== '');
}

/** Number of whitespace-separated words, as `len(s.split())`. */
export function pythonWordCount(text: string): number {
  return pythonSplitWhitespace(text).length;
}

/** `s.strip()` in Python. */
export function pythonStrip(text: string): string {
  return text.replace(leadingWhitespace, '').replace(trailingWhitespace, '');
}

/** `len(s)` in Python: code points, not UTF-16 units. */
export function codePointLength(text: string): number {
  let length = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length--;
        index++;
      }
    }
  }
  return length;
}

/** `c.islower()` for one character: cased and lowercase. */
export function pythonIsLowerCharacter(character: string): boolean {
  return /^\p{Lowercase}$/u.test(character);
}

/**
 * `round(x, digits)` in Python 3: correctly rounded from the exact binary value, ties to even. Works on the
 * exact decimal expansion (`toFixed` is exact), so large values keep every digit.
 */
export function pythonRound(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const exact = Math.abs(value).toFixed(Math.min(100, digits + 60));
  const point = exact.indexOf('.');
  const kept = (exact.slice(0, point) + exact.slice(point + 1, point + 1 + digits)).split('').map(Number);
  const rest = exact.slice(point + 1 + digits);
  const isTie = /^50*$/.test(rest);
  const roundUp = rest[0] > '5' || (rest[0] === '5' && !isTie) || (isTie && kept[kept.length - 1] % 2 === 1);
  if (roundUp) {
    let position = kept.length - 1;
    while (position >= 0 && kept[position] === 9) kept[position--] = 0;
    if (position < 0) kept.unshift(1);
    else kept[position]++;
  }
  const integerDigits = kept.length - digits;
  const text = `${kept.slice(0, integerDigits).join('') || '0'}.${kept.slice(integerDigits).join('')}`;
  const rounded = Number(text);
  return value < 0 ? -rounded : rounded;
}

/** `s.lstrip()` in Python. */
export function pythonLstrip(text: string): string {
  return text.replace(leadingWhitespace, '');
}

/** `s.rstrip()` in Python. */
export function pythonRstrip(text: string): string {
  return text.replace(trailingWhitespace, '');
}
