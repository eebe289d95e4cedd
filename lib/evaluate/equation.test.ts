import { equationsAgree, evaluateEquation } from './equation';

// Expected values are what CPython 3.11 `eval` gives (NaN where it raises or gives a non-number).

describe('evaluateEquation', () => {
  test('evaluates the gold svamp format "( a / b )"', () => {
    expect(evaluateEquation('( 84.0 / 2.0 )')).toBe(42);
    expect(evaluateEquation('( 60.0 / 10.0 )')).toBe(6);
    expect(evaluateEquation('( ( 31.0 - 18.0 ) + 5.0 )')).toBe(18);
  });

  test('evaluates nested parentheses', () => {
    expect(evaluateEquation('((3 + 4) * (10 - 2)) / 4')).toBe(14);
    expect(evaluateEquation('(((2)))')).toBe(2);
  });

  test('* / // % bind tighter than + -, and each level is left-associative', () => {
    expect(evaluateEquation('2 + 3 * 4')).toBe(14);
    expect(evaluateEquation('10 - 2 - 3')).toBe(5);
    expect(evaluateEquation('8 / 2 / 2')).toBe(2);
    expect(evaluateEquation('4 / 2 * 3')).toBe(6);
    expect(evaluateEquation('12 // 5 * 5 + 12 % 5')).toBe(12);
  });

  test('** binds tighter than a unary minus on its left and is right-associative', () => {
    expect(evaluateEquation('-2**2')).toBe(-4);
    expect(evaluateEquation('(-2)**2')).toBe(4);
    expect(evaluateEquation('2**3**2')).toBe(512);
    expect(evaluateEquation('2 ** -1')).toBe(0.5);
    expect(evaluateEquation('2 ** -2 ** 2')).toBe(0.0625);
  });

  test('unary signs stack', () => {
    expect(evaluateEquation('--3')).toBe(3);
    expect(evaluateEquation('+-+3')).toBe(-3);
    expect(evaluateEquation('2 * -3')).toBe(-6);
  });

  test('// floors and % takes the sign of the divisor, as Python', () => {
    expect(evaluateEquation('-7 // 2')).toBe(-4);
    expect(evaluateEquation('7 // -2')).toBe(-4);
    expect(evaluateEquation('-7 % 3')).toBe(2);
    expect(evaluateEquation('7 % -3')).toBe(-2);
    expect(evaluateEquation('7.5 // 2')).toBe(3);
    expect(evaluateEquation('-7.5 % 2')).toBe(0.5);
  });

  test('division by zero, zero to a negative power and overflow give NaN', () => {
    expect(evaluateEquation('1 / 0')).toBeNaN();
    expect(evaluateEquation('1 // 0')).toBeNaN();
    expect(evaluateEquation('5 % 0')).toBeNaN();
    expect(evaluateEquation('( 5.0 / ( 3.0 - 3.0 ) )')).toBeNaN();
    expect(evaluateEquation('0 ** -1')).toBeNaN();
    expect(evaluateEquation('2.0 ** 1024')).toBeNaN();
  });

  test('a negative base to a fractional power (complex in Python) gives NaN', () => {
    expect(evaluateEquation('(-8) ** (1/3)')).toBeNaN();
  });

  test('an integer literal with a leading zero is a syntax error, zeros alone and decimals are not', () => {
    expect(evaluateEquation('007')).toBeNaN();
    expect(evaluateEquation('0')).toBe(0);
    expect(evaluateEquation('00')).toBe(0);
    expect(evaluateEquation('0.7')).toBe(0.7);
    expect(evaluateEquation('007.5')).toBe(7.5);
  });

  test('reads decimal, exponent and dot-led literals', () => {
    expect(evaluateEquation('.5 + .5')).toBe(1);
    expect(evaluateEquation('5.')).toBe(5);
    expect(evaluateEquation('1e3')).toBe(1000);
    expect(evaluateEquation('0.1 + 0.2')).toBe(0.30000000000000004);
  });

  test('spaces and tabs around and between tokens are ignored', () => {
    expect(evaluateEquation(' 6 ')).toBe(6);
    expect(evaluateEquation('\t6\t')).toBe(6);
    expect(evaluateEquation('3+4')).toBe(7);
  });

  test.each([['6 flower beds'], ['x+1'], [''], ['   '], ['3 +'], ['(3'], ['3)'], ['()'], ['2(3)'], ['3 4'], ['7 %% 2'], ['1 */ 2'], ['1 +\n 2']])(
    'text that is not an arithmetic expression gives NaN: %j',
    (text) => {
      expect(evaluateEquation(text)).toBeNaN();
    },
  );

  test('null and undefined give NaN', () => {
    expect(evaluateEquation(null)).toBeNaN();
    expect(evaluateEquation(undefined)).toBeNaN();
  });
});

describe('equationsAgree', () => {
  test('a prediction agrees with the gold equation when both evaluate to the same number', () => {
    expect(equationsAgree('6', '( 60.0 / 10.0 )')).toBe(true);
    expect(equationsAgree('( 120.0 / 2.0 )', '( 60.0 * 1.0 )')).toBe(true);
    expect(equationsAgree('6.0', '6')).toBe(true);
  });

  test('different values do not agree', () => {
    expect(equationsAgree('7', '( 60.0 / 10.0 )')).toBe(false);
    expect(equationsAgree('0.1 + 0.2', '0.3')).toBe(false);
  });

  test('NaN never agrees, not even with NaN', () => {
    expect(equationsAgree('1 / 0', '1 / 0')).toBe(false);
    expect(equationsAgree('six', '6')).toBe(false);
    expect(equationsAgree(null, '6')).toBe(false);
    expect(equationsAgree('6', 'six')).toBe(false);
  });
});
