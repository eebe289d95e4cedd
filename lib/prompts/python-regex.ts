import { PYTHON_WHITESPACE_CLASS, PYTHON_WORD_CLASS } from '../core/python';

/**
 * Translates a Python `re` pattern into an equivalent JavaScript RegExp (Unicode mode).
 *
 * The study's templates carry parse patterns written for Python: `\w`, `\d`, `\s` and `\b` are Unicode-aware
 * there, `{` is a literal unless it forms a quantifier, any punctuation may be escaped, `$` also matches before
 * a final newline, and named groups are spelled `(?P<name>...)`. A literal copy into `new RegExp` would fail
 * to compile (Unicode mode is strict) or match differently. Constructs JavaScript cannot express are
 * rejected with a message, never approximated silently.
 */

export interface PythonRegexOptions {
  ignoreCase?: boolean;
  dotAll?: boolean;
}

export class PythonRegexError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'PythonRegexError';
  }
}

const WORD = `[${PYTHON_WORD_CLASS}]`;
const NOT_WORD = `[^${PYTHON_WORD_CLASS}]`;
const WORD_BOUNDARY = `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`;
const NOT_WORD_BOUNDARY = `(?:(?<=${WORD})(?=${WORD})|(?<!${WORD})(?!${WORD}))`;
const SYNTAX_CHARACTERS = new Set('^$\\.*+?()[]{}|/'.split(''));
const SIMPLE_ESCAPES: Record<string, string> = { n: '\\n', t: '\\t', r: '\\r', f: '\\f', v: '\\v', a: '\\x07', '0': '\\0' };
const QUANTIFIER_BRACE = /^\{(\d*)(,(\d*))?\}/;

export function translatePythonRegex(pattern: string): string {
  let output = '';
  let index = 0;
  const length = pattern.length;
  while (index < length) {
    const character = pattern[index];
    if (character === '\\') {
      const [translated, consumed] = translateEscape(pattern, index, false);
      output += translated;
      index += consumed;
    } else if (character === '[') {
      const [translated, consumed] = translateClass(pattern, index);
      output += translated;
      index += consumed;
    } else if (character === '(') {
      const [translated, consumed] = translateGroupOpening(pattern, index);
      output += translated;
      index += consumed;
    } else if (character === '{') {
      // As sre_parse: "{}" and an unclosed "{" are literals; "{m}", "{m,}", "{,n}", "{m,n}" and "{,}" repeat.
      const quantifier = QUANTIFIER_BRACE.exec(pattern.slice(index));
      if (quantifier && quantifier[0] !== '{}') {
        const minimum = quantifier[1] === '' ? '0' : quantifier[1];
        output += quantifier[2] === undefined ? `{${minimum}}` : `{${minimum},${quantifier[3]}}`;
        index += quantifier[0].length;
        if (pattern[index] === '+') throw new PythonRegexError('possessive quantifiers are not supported', index);
      } else {
        output += '\\{';
        index++;
      }
    } else if (character === '}') {
      output += '\\}';
      index++;
    } else if (character === '$') {
      output += '(?=\\n?$)';
      index++;
    } else if ((character === '*' || character === '+' || character === '?') && pattern[index + 1] === '+') {
      throw new PythonRegexError('possessive quantifiers are not supported', index + 1);
    } else {
      output += character;
      index++;
    }
  }
  return output;
}

/** Compiles a Python pattern with the study's flags (IGNORECASE | DOTALL by default). */
export function compilePythonRegex(pattern: string, options: PythonRegexOptions = { ignoreCase: true, dotAll: true }): RegExp {
  const flags = `u${options.ignoreCase ? 'i' : ''}${options.dotAll ? 's' : ''}`;
  let source = translatePythonRegex(pattern);
  // Without DOTALL, Python's `.` excludes only "\n"; JavaScript's also excludes "\r", U+2028 and U+2029.
  if (!options.dotAll) source = replaceUnescapedDots(source);
  return new RegExp(source, flags);
}

function replaceUnescapedDots(source: string): string {
  let output = '';
  let inClass = false;
  for (let index = 0; index < source.length; index++) {
    const character = source[index];
    if (character === '\\') {
      output += character + (source[index + 1] ?? '');
      index++;
    } else if (character === '[') {
      inClass = true;
      output += character;
    } else if (character === ']') {
      inClass = false;
      output += character;
    } else if (character === '.' && !inClass) {
      output += '[^\\n]';
    } else {
      output += character;
    }
  }
  return output;
}

function translateEscape(pattern: string, index: number, inClass: boolean): [string, number] {
  const next = pattern[index + 1];
  if (next === undefined) throw new PythonRegexError('pattern ends with a lone backslash', index);
  switch (next) {
    case 'd':
      return ['\\p{Nd}', 2];
    case 'D':
      return ['\\P{Nd}', 2];
    case 'w':
      return [inClass ? PYTHON_WORD_CLASS : WORD, 2];
    case 'W':
      if (inClass) throw new PythonRegexError('\\W inside a character class is not supported', index);
      return [NOT_WORD, 2];
    case 's':
      return [inClass ? PYTHON_WHITESPACE_CLASS : `[${PYTHON_WHITESPACE_CLASS}]`, 2];
    case 'S':
      if (inClass) throw new PythonRegexError('\\S inside a character class is not supported', index);
      return [`[^${PYTHON_WHITESPACE_CLASS}]`, 2];
    case 'b':
      return [inClass ? '\\x08' : WORD_BOUNDARY, 2];
    case 'B':
      if (inClass) throw new PythonRegexError('bad escape \\B inside a character class', index);
      return [NOT_WORD_BOUNDARY, 2];
    case 'A':
      if (inClass) throw new PythonRegexError('bad escape \\A inside a character class', index);
      return ['^', 2];
    case 'Z':
      if (inClass) throw new PythonRegexError('bad escape \\Z inside a character class', index);
      return ['$', 2];
    case 'x': {
      const hex = /^[0-9a-fA-F]{2}/.exec(pattern.slice(index + 2));
      if (!hex) throw new PythonRegexError('incomplete escape \\x', index);
      return [`\\x${hex[0]}`, 4];
    }
    case 'u': {
      const hex = /^[0-9a-fA-F]{4}/.exec(pattern.slice(index + 2));
      if (!hex) throw new PythonRegexError('incomplete escape \\u', index);
      return [`\\u${hex[0]}`, 6];
    }
    case 'U': {
      const hex = /^[0-9a-fA-F]{8}/.exec(pattern.slice(index + 2));
      if (!hex) throw new PythonRegexError('incomplete escape \\U', index);
      return [`\\u{${hex[0].replace(/^0+(?=.)/, '')}}`, 10];
    }
    default:
      break;
  }
  if (SIMPLE_ESCAPES[next] !== undefined && !(next === '0' && /[0-7]/.test(pattern[index + 2] ?? ''))) {
    return [SIMPLE_ESCAPES[next], 2];
  }
  if (/[1-9]/.test(next)) {
    if (inClass) throw new PythonRegexError('octal escapes are not supported', index);
    const digits = /^\d{1,2}/.exec(pattern.slice(index + 1))![0];
    return [`\\${digits}`, 1 + digits.length];
  }
  if (/[A-Za-z0-9]/.test(next)) throw new PythonRegexError(`bad escape \\${next}`, index);
  // Python lets any other character be escaped; JavaScript's Unicode mode only syntax characters.
  if (SYNTAX_CHARACTERS.has(next) || (inClass && next === '-')) return [`\\${next}`, 2];
  const codePoint = pattern.codePointAt(index + 1)!;
  return [String.fromCodePoint(codePoint), 1 + (codePoint > 0xffff ? 2 : 1)];
}

function translateClass(pattern: string, start: number): [string, number] {
  let index = start + 1;
  let output = '[';
  if (pattern[index] === '^') {
    output += '^';
    index++;
  }
  // A "]" right after "[" or "[^" is a literal in Python.
  if (pattern[index] === ']') {
    output += '\\]';
    index++;
  }
  while (index < pattern.length && pattern[index] !== ']') {
    const character = pattern[index];
    if (character === '\\') {
      const [translated, consumed] = translateEscape(pattern, index, true);
      output += translated;
      index += consumed;
    } else if (character === '[') {
      output += '\\[';
      index++;
    } else {
      output += character;
      index++;
    }
  }
  if (index >= pattern.length) throw new PythonRegexError('unterminated character set', start);
  return [`${output}]`, index + 1 - start];
}

function translateGroupOpening(pattern: string, index: number): [string, number] {
  if (pattern[index + 1] !== '?') return ['(', 1];
  const rest = pattern.slice(index + 2);
  const named = /^P<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
  if (named) return [`(?<${named[1]}>`, 2 + named[0].length];
  const reference = /^P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
  if (reference) return [`\\k<${reference[1]}>`, 2 + reference[0].length];
  if (rest.startsWith('#')) {
    const end = pattern.indexOf(')', index);
    if (end < 0) throw new PythonRegexError('missing ), unterminated comment', index);
    return ['', end + 1 - index];
  }
  if (/^(?::|=|!|<=|<!|<[A-Za-z_])/.test(rest)) return ['(?', 2];
  const inlineFlags = /^([aiLmsux]+)\)/.exec(rest);
  if (inlineFlags) {
    // The study compiles with IGNORECASE | DOTALL already; only those two flags are redundant and safe to drop.
    if (/^[is]+$/.test(inlineFlags[1])) return ['', 2 + inlineFlags[0].length];
    throw new PythonRegexError(`inline flags (?${inlineFlags[1]}) are not supported`, index);
  }
  if (rest.startsWith('>')) throw new PythonRegexError('atomic groups are not supported', index);
  throw new PythonRegexError(`unknown extension (?${rest[0] ?? ''}`, index);
}
