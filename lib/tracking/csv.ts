import { ZsdError } from '../core/errors';

/**
 * CSV as the study's pandas `to_csv` wrote it: a header line, comma-separated fields, a field quoted with double
 * quotes when it holds a comma, a quote or a line break (a quote inside doubled). Dependency-free so that the
 * tracking stage needs no dataframe library; analytics turns the rows into arquero tables.
 */

export interface CsvRow {
  /** 1-based line of the row in the file (the header is line 1). */
  line: number;
  values: Record<string, string>;
}

export interface CsvTable {
  header: string[];
  rows: CsvRow[];
}

/** Parses CSV text; `file` names the source in errors. Rows with a different field count are refused. */
export function parseCsv(text: string, file: string): CsvTable {
  const records = splitRecords(text.replace(/^\uFEFF/, ''), file);
  const nonEmpty = records.filter((record) => !(record.fields.length === 1 && record.fields[0] === ''));
  if (nonEmpty.length === 0) throw new ZsdError('invalid-file', 'empty CSV file; expected a header line', { file, line: 1 });
  const [headerRecord, ...body] = nonEmpty;
  const header = headerRecord.fields.map((field) => field.trim());
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') throw new ZsdError('invalid-file', 'empty column name in the header', { file, line: headerRecord.line });
    if (seen.has(name)) throw new ZsdError('invalid-file', `column "${name}" appears twice in the header`, { file, line: headerRecord.line, key: name });
    seen.add(name);
  }
  const rows = body.map((record) => {
    if (record.fields.length !== header.length) {
      throw new ZsdError('invalid-file', `${record.fields.length} fields, but the header has ${header.length} columns`, { file, line: record.line });
    }
    const values: Record<string, string> = {};
    header.forEach((name, index) => (values[name] = record.fields[index]));
    return { line: record.line, values };
  });
  return { header, rows };
}

function splitRecords(text: string, file: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let index = 0;
  let fieldStarted = false;
  while (index < text.length) {
    const character = text[index];
    if (quoted) {
      if (character === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index += 2;
          continue;
        }
        quoted = false;
        index++;
        continue;
      }
      if (character === '\n') line++;
      field += character;
      index++;
      continue;
    }
    if (character === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      index++;
      continue;
    }
    if (character === ',') {
      fields.push(field);
      field = '';
      fieldStarted = false;
      index++;
      continue;
    }
    if (character === '\r' && text[index + 1] === '\n') {
      index++;
      continue;
    }
    if (character === '\n') {
      fields.push(field);
      records.push({ line: recordLine, fields });
      fields = [];
      field = '';
      fieldStarted = false;
      line++;
      recordLine = line;
      index++;
      continue;
    }
    field += character;
    fieldStarted = true;
    index++;
  }
  if (quoted) throw new ZsdError('invalid-file', 'a quoted field is not closed before the end of the file', { file, line: recordLine });
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    records.push({ line: recordLine, fields });
  }
  return records;
}

/** One CSV field: quoted when it needs to be. null and undefined are empty, as pandas writes NaN. */
export function formatCsvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV text: the header, then one line per row in the header's order, "\n" line ends. */
export function formatCsv(header: readonly string[], rows: readonly Record<string, string | number | null | undefined>[]): string {
  const lines = [header.map(formatCsvField).join(',')];
  for (const row of rows) lines.push(header.map((name) => formatCsvField(row[name])).join(','));
  return `${lines.join('\n')}\n`;
}
