/**
 * Errors that carry data. Callers decide on `kind` and the fields, never on the message text.
 * Every user-facing failure names where the problem is (file, line, key) and what was expected.
 */

export type ZsdErrorKind =
  | 'usage' // a flag or argument out of range
  | 'not-found' // a file, task, split or template that does not exist
  | 'invalid-file' // a file that exists but does not have the expected shape
  | 'invalid-template' // a prompt template that cannot be rendered or whose pattern does not compile
  | 'read-only' // an attempt to write below the read-only data root
  | 'incomplete' // work that stopped before the end (teacher failures, a budget): running again resumes it
  | 'internal';

export interface ErrorLocation {
  file?: string;
  line?: number;
  key?: string;
}

export class ZsdError extends Error {
  readonly kind: ZsdErrorKind;
  readonly location: ErrorLocation;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(kind: ZsdErrorKind, detail: string, location: ErrorLocation = {}) {
    super(formatMessage(detail, location));
    this.name = 'ZsdError';
    this.kind = kind;
    this.location = location;
    this.detail = detail;
  }

  /** The same error, located more precisely (e.g. with the line a caller knows). */
  relocated(location: ErrorLocation): ZsdError {
    return new ZsdError(this.kind, this.detail, { ...this.location, ...location });
  }
}

function formatMessage(message: string, location: ErrorLocation): string {
  const where = [
    location.file ? `${location.file}${location.line !== undefined ? `:${location.line}` : ''}` : undefined,
    location.key ? `key ${location.key}` : undefined,
  ].filter((part): part is string => part !== undefined);
  return where.length > 0 ? `${where.join(', ')}: ${message}` : message;
}

export function isZsdError(value: unknown): value is ZsdError {
  return value instanceof ZsdError;
}
