/**
 * Safe evaluation of arithmetic answers (svamp): numbers, + - * / // % **, unary signs and parentheses,
 * with Python's semantics, which the study's accuracy used (`eval(equation)`, NaN on any error, and
 * NaN never equals NaN). No `eval`: anything else (names, calls, a stray word) gives NaN.
 * Python details kept: integer literals with leading zeros ("007") are syntax errors, `-2**2` is -4,
 * `**` is right-associative, `//` floors, `%` takes the sign of the divisor, division by zero is an error.
 */

type Token = { type: 'number'; value: number } | { type: 'operator'; value: string };

const NUMBER = /^(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)/;
const OPERATOR = /^(?:\*\*|\/\/|[-+*/%()])/;

export function evaluateEquation(text: string | null | undefined): number {
  if (typeof text !== 'string') return Number.NaN;
  const tokens = tokenize(text);
  if (!tokens) return Number.NaN;
  const parser = new EquationParser(tokens);
  try {
    const value = parser.parseExpression();
    return parser.done() ? value : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Equal as Python's `==` on two evaluated answers: NaN is never equal. */
export function equationsAgree(predicted: string | null, gold: string): boolean {
  const left = evaluateEquation(predicted);
  const right = evaluateEquation(gold);
  return !Number.isNaN(left) && left === right;
}

function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = [];
  let rest = text.replace(/^[ \t\n\r\f]+|[ \t\n\r\f]+$/g, '');
  while (rest.length > 0) {
    const space = /^[ \t\f]+/.exec(rest);
    if (space) {
      rest = rest.slice(space[0].length);
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number) {
      const literal = number[0];
      if (/^0\d/.test(literal) && /^\d+$/.test(literal) && !/^0+$/.test(literal)) return undefined;
      if (/^[A-Za-z_0-9.]/.test(rest.slice(literal.length))) return undefined;
      tokens.push({ type: 'number', value: Number(literal) });
      rest = rest.slice(literal.length);
      continue;
    }
    const operator = OPERATOR.exec(rest);
    if (operator) {
      tokens.push({ type: 'operator', value: operator[0] });
      rest = rest.slice(operator[0].length);
      continue;
    }
    return undefined;
  }
  return tokens;
}

class EquationParser {
  private position = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  done(): boolean {
    return this.position === this.tokens.length;
  }

  parseExpression(): number {
    let value = this.parseTerm();
    for (let operator = this.peekOperator(); operator === '+' || operator === '-'; operator = this.peekOperator()) {
      this.position++;
      const right = this.parseTerm();
      value = operator === '+' ? value + right : value - right;
    }
    return value;
  }

  private parseTerm(): number {
    let value = this.parseFactor();
    for (let operator = this.peekOperator(); operator === '*' || operator === '/' || operator === '//' || operator === '%'; operator = this.peekOperator()) {
      this.position++;
      const right = this.parseFactor();
      if (operator === '*') value *= right;
      else if (right === 0) throw new Error('division by zero');
      else if (operator === '/') value /= right;
      else value = pythonDivMod(value, right)[operator === '//' ? 0 : 1];
    }
    return value;
  }

  private parseFactor(): number {
    const operator = this.peekOperator();
    if (operator === '+' || operator === '-') {
      this.position++;
      const operand = this.parseFactor();
      return operator === '-' ? -operand : operand;
    }
    return this.parsePower();
  }

  private parsePower(): number {
    const base = this.parseAtom();
    if (this.peekOperator() !== '**') return base;
    this.position++;
    const exponent = this.parseFactor();
    if (base === 0 && exponent < 0) throw new Error('zero to a negative power');
    if (base < 0 && !Number.isInteger(exponent)) throw new Error('complex result');
    const result = base ** exponent;
    if (!Number.isFinite(result)) throw new Error('overflow');
    return result;
  }

  private parseAtom(): number {
    const token = this.tokens[this.position];
    if (!token) throw new Error('unexpected end');
    this.position++;
    if (token.type === 'number') return token.value;
    if (token.value === '(') {
      const value = this.parseExpression();
      if (this.peekOperator() !== ')') throw new Error('missing )');
      this.position++;
      return value;
    }
    throw new Error(`unexpected ${token.value}`);
  }

  private peekOperator(): string | undefined {
    const token = this.tokens[this.position];
    return token?.type === 'operator' ? token.value : undefined;
  }
}

/** CPython's float `divmod`: the remainder from fmod, with the sign of the divisor, and a floored quotient. */
function pythonDivMod(dividend: number, divisor: number): [number, number] {
  let remainder = dividend % divisor;
  let quotient = (dividend - remainder) / divisor;
  if (remainder !== 0) {
    if (divisor < 0 !== remainder < 0) {
      remainder += divisor;
      quotient -= 1;
    }
  } else {
    remainder = divisor < 0 ? -0 : 0;
  }
  let floored: number;
  if (quotient !== 0) {
    floored = Math.floor(quotient);
    if (quotient - floored > 0.5) floored += 1;
  } else {
    floored = dividend / divisor < 0 ? -0 : 0;
  }
  return [floored, remainder];
}
