import { thrownBy } from '../test-support/fixtures';
import { formatCsv, parseCsv } from './csv';

describe('CSV', () => {
  test('round-trips quoted fields with commas, quotes and line breaks, and reports lines', () => {
    const text = formatCsv(
      ['a', 'b'],
      [
        { a: 'x,y', b: 'say "hi"' },
        { a: 'two\nlines', b: 3 },
        { a: null, b: '' },
      ],
    );
    expect(text).toBe('a,b\n"x,y","say ""hi"""\n"two\nlines",3\n,\n');
    const table = parseCsv(text, 'mem.csv');
    expect(table.rows.map((row) => row.values)).toEqual([
      { a: 'x,y', b: 'say "hi"' },
      { a: 'two\nlines', b: '3' },
      { a: '', b: '' },
    ]);
    expect(table.rows.map((row) => row.line)).toEqual([2, 3, 5]);
  });

  test('a row with the wrong number of fields, or an unclosed quote, is refused with file and line', () => {
    expect(String(thrownBy(() => parseCsv('a,b\n1,2\n3\n', 'plan.csv')))).toBe('ZsdError: plan.csv:3: 1 fields, but the header has 2 columns');
    expect(String(thrownBy(() => parseCsv('a,b\n"1,2\n', 'plan.csv')))).toMatch(/plan\.csv:2: a quoted field is not closed/);
  });
});
