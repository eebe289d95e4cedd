import * as fs from 'node:fs';
import { ZsdError } from './errors';

/**
 * JSON Lines reading with exact error locations.
 * A last line without its newline that does not parse is a *torn tail*: what a crash in the middle of an
 * append leaves behind. It is reported separately so that callers choose: the response store drops it
 * (the response was never used), evaluation refuses to run on it.
 */

export interface JsonLine<T = unknown> {
  /** 1-based line number in the file. */
  line: number;
  value: T;
}

export interface JsonLinesContent<T = unknown> {
  lines: JsonLine<T>[];
  tornTail?: { line: number; text: string; byteOffset: number };
}

export function readJsonLines<T = unknown>(file: string): JsonLinesContent<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ZsdError('not-found', `cannot read JSON Lines file: ${(error as Error).message}`, { file });
  }
  return parseJsonLines<T>(text, file);
}

export function parseJsonLines<T = unknown>(text: string, file: string): JsonLinesContent<T> {
  const lines: JsonLine<T>[] = [];
  const endsWithNewline = text.endsWith('\n');
  const rows = text.split('\n');
  if (endsWithNewline) rows.pop();
  let byteOffset = 0;
  for (let index = 0; index < rows.length; index++) {
    const raw = rows[index];
    const lineNumber = index + 1;
    const isLast = index === rows.length - 1;
    const trimmed = raw.trim();
    if (trimmed !== '') {
      try {
        lines.push({ line: lineNumber, value: JSON.parse(trimmed) as T });
      } catch (error) {
        if (isLast && !endsWithNewline) {
          return { lines, tornTail: { line: lineNumber, text: raw, byteOffset } };
        }
        throw new ZsdError('invalid-file', `line is not valid JSON (${(error as Error).message}); expected one JSON object per line`, {
          file,
          line: lineNumber,
        });
      }
    }
    byteOffset += Buffer.byteLength(raw, 'utf8') + 1;
  }
  return { lines };
}
