import * as fs from 'node:fs';
import { ZsdError } from './errors';

/**
 * JSON Lines reading with exact error locations.
 * A last line without its newline that does not parse is a *torn tail*: what a crash in the middle of an
 * append leaves behind. It is reported separately so that callers choose: the response store drops it
 * (the response was never used), evaluation refuses to run on it.
 * Files are read as strict UTF-8: a line with bytes that are not UTF-8 is refused with its line number (decoding it
 * would silently turn them into U+FFFD and send, train on or score damaged text), except a last line without its
 * newline, where a crash mid-write may have cut a character in two: that is a torn tail like any other.
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
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new ZsdError('not-found', `cannot read JSON Lines file: ${(error as Error).message}`, { file });
  }
  const { text, undecodableLastLine } = decodeUtf8Lines(bytes, file);
  const content = parseJsonLines<T>(text, file);
  if (undecodableLastLine !== undefined && content.lines.at(-1)?.line === undecodableLastLine) {
    // It parsed: not a cut-off write but a complete line with bytes that are not UTF-8.
    throw invalidUtf8(file, undecodableLastLine);
  }
  return content;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

/**
 * The text of a file of lines, decoded as strict UTF-8. A line that is not UTF-8 throws, naming it; only a last line
 * without its newline is decoded leniently (and reported), since a torn write may have cut its last character.
 */
export function decodeUtf8Lines(bytes: Uint8Array, file: string): { text: string; undecodableLastLine?: number } {
  try {
    return { text: strictUtf8.decode(bytes) };
  } catch {
    // Find the line, below.
  }
  let start = 0;
  for (let line = 1; ; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline < 0 ? bytes.length : newline;
    try {
      strictUtf8.decode(bytes.subarray(start, end));
    } catch {
      if (newline >= 0) throw invalidUtf8(file, line);
      return { text: strictUtf8.decode(bytes.subarray(0, start)) + lenientUtf8.decode(bytes.subarray(start)), undecodableLastLine: line };
    }
    if (newline < 0) return { text: lenientUtf8.decode(bytes) };
    start = newline + 1;
  }
}

function invalidUtf8(file: string, line: number): ZsdError {
  return new ZsdError('invalid-file', 'line is not valid UTF-8 (bytes that no UTF-8 character is made of); expected a UTF-8 text file: re-save it as UTF-8', {
    file,
    line,
  });
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
