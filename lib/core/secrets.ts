/**
 * Secrets zsd must never print or write (API keys from a flag, the environment or `.env`; a password in a URL).
 * One registry per process: whoever reads a secret registers it here, and everything zsd prints or writes passes
 * through `redactSecrets`, which replaces each registered value by `[redacted]`. Values shorter than
 * MIN_SECRET_LENGTH are not registered: a local server's placeholder key ("x", "none") would otherwise blank out
 * ordinary words, and such a value protects nothing.
 */

export const REDACTED = '[redacted]';
export const MIN_SECRET_LENGTH = 8;

const secrets = new Set<string>();

/** Registers a secret for redaction (ignores undefined, empty and too-short values). */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  const trimmed = value.trim();
  if (trimmed.length < MIN_SECRET_LENGTH) return;
  secrets.add(trimmed);
  // A URL-encoded form is what a server would quote back from a query string or a URL.
  const encoded = encodeURIComponent(trimmed);
  if (encoded !== trimmed) secrets.add(encoded);
}

/** The text with every registered secret replaced by `[redacted]`, longest secrets first. */
export function redactSecrets(text: string): string {
  if (secrets.size === 0) return text;
  let result = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (result.includes(secret)) result = result.split(secret).join(REDACTED);
  }
  return result;
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
}
