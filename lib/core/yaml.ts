import * as fs from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { ZsdError } from './errors';

/**
 * YAML reading for files written for (or by) PyYAML, the study's library, with errors that name file and line.
 * - YAML 1.1, as PyYAML: `True` is a boolean.
 * - PyYAML accepts a multi-line quoted scalar whose continuation lines are indented less than its key
 *   (the study's cqa.yaml has such templates); the YAML spec and JavaScript parsers do not. Continuation
 *   lines of a quoted scalar lose their leading spaces when the scalar is folded, so indenting them changes
 *   no value: when a strict parse fails, zsd retries once with those lines indented, and reports the
 *   original error if that fails too.
 */

export interface ParsedYaml {
  document: Document;
  lineCounter: LineCounter;
}

export function readYamlFile(file: string): ParsedYaml {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ZsdError('not-found', `cannot read YAML file: ${(error as Error).message}`, { file });
  }
  return parseYamlText(text, file);
}

export function parseYamlText(text: string, file: string): ParsedYaml {
  const strict = parseWithLines(text);
  if (strict.document.errors.length === 0) return strict;
  const indented = indentQuotedContinuationLines(text);
  if (indented !== text) {
    const lenient = parseWithLines(indented);
    if (lenient.document.errors.length === 0) return lenient;
  }
  const first = strict.document.errors[0];
  const message = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  throw new ZsdError('invalid-file', `broken YAML: ${message}`, { file, line: first.linePos?.[0].line });
}

function parseWithLines(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { version: '1.1', lineCounter, uniqueKeys: true });
  return { document, lineCounter };
}

/** Indents the continuation lines of quoted scalars that span lines to (start line's indent + 2). */
export function indentQuotedContinuationLines(text: string): string {
  const lines = text.split('\n');
  let quote: "'" | '"' | null = null;
  let continuationIndent = 0;
  for (let lineIndex = 0; lineIndex < lines.length; lineIndex++) {
    let line = lines[lineIndex];
    let position = 0;
    if (quote !== null) {
      const leading = /^[ \t]*/.exec(line)![0].length;
      if (line.trim() !== '' && leading < continuationIndent) {
        line = ' '.repeat(continuationIndent) + line.slice(leading);
        lines[lineIndex] = line;
      }
      position = 0;
    } else {
      continuationIndent = /^ */.exec(line)![0].length + 2;
    }
    while (position < line.length) {
      const character = line[position];
      if (quote === "'") {
        if (character === "'") {
          if (line[position + 1] === "'") position++;
          else quote = null;
        }
      } else if (quote === '"') {
        if (character === '\\') position++;
        else if (character === '"') quote = null;
      } else if (character === '#' && (position === 0 || /\s/.test(line[position - 1]))) {
        break;
      } else if ((character === "'" || character === '"') && startsScalar(line, position)) {
        quote = character;
      }
      position++;
    }
  }
  return lines.join('\n');
}

/** A quote opens a scalar only where a value starts: after indentation, "key: ", "- ", "[", "{" or ",". */
function startsScalar(line: string, position: number): boolean {
  const before = line.slice(0, position).trimEnd();
  return before === '' || before.endsWith(':') || before.endsWith('-') || before.endsWith('[') || before.endsWith('{') || before.endsWith(',');
}

/**
 * The line of a key (the line where `label:` or `7:` is written), found by walking the document's nodes, so
 * that a number key matches and a block mapping is located at its key rather than its first entry.
 */
export function lineOfKey(document: Document, lineCounter: LineCounter, pathParts: readonly PropertyKey[]): number | undefined {
  let node: unknown = document.contents;
  let line: number | undefined;
  for (const part of pathParts) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => {
      const key = isScalar(item.key) ? item.key.value : item.key;
      return key === part || String(key) === String(part) || (isScalar(item.key) && scalarSource(item.key) === String(part));
    });
    if (!pair) break;
    const range = (pair.key as { range?: [number, number, number] } | null)?.range ?? (pair.value as { range?: [number, number, number] } | null)?.range;
    if (range) line = lineCounter.linePos(range[0]).line;
    node = pair.value;
  }
  return line;
}

/** A scalar as written in the file (`1.0` stays `1.0`), for messages. */
export function scalarSource(node: unknown): string {
  if (isScalar(node)) {
    const source = (node as { source?: unknown }).source;
    return typeof source === 'string' ? source : String(node.value);
  }
  return String(node);
}
