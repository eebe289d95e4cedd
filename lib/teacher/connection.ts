import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { registerSecret } from '../core/secrets';

/**
 * Where the teacher is and how to sign in: `--base-url` / `--api-key` flags, else the environment
 * (`OPENAI_BASE_URL`, `OPENAI_API_KEY`), else a `.env` file in the workspace (which the user keeps out of git).
 * The key is only ever handed to the SDK: it is never part of a request key, a stored line, a log or a result.
 * Every key configured anywhere (flag, environment, `.env`, whichever wins) and a password in a base URL are
 * registered with core/secrets.ts, so that a server quoting them back (an error body echoing the Authorization
 * header) is redacted wherever zsd prints or writes it.
 */

export const CONNECTION_VARIABLES = ['OPENAI_API_KEY', 'OPENAI_BASE_URL'] as const;

export interface TeacherConnection {
  baseURL?: string;
  apiKey?: string;
  /** Where each setting came from, for messages ("--base-url", "OPENAI_BASE_URL", ".env"): never the value of a key. */
  baseURLSource?: string;
  apiKeySource?: string;
}

export interface ConnectionFlags {
  baseUrl?: string;
  apiKey?: string;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, dotEnvFile?: string): TeacherConnection {
  const dotEnv = dotEnvFile ? readDotEnv(dotEnvFile) : new Map<string, string>();
  for (const key of [flags.apiKey, env.OPENAI_API_KEY, dotEnv.get('OPENAI_API_KEY')]) registerSecret(key);
  for (const url of [flags.baseUrl, env.OPENAI_BASE_URL, dotEnv.get('OPENAI_BASE_URL')]) registerSecret(urlPassword(url));
  const pick = (flag: string | undefined, flagName: string, variable: (typeof CONNECTION_VARIABLES)[number]) => {
    if (flag !== undefined && flag !== '') return { value: flag, source: flagName };
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: variable };
    const fromFile = dotEnv.get(variable);
    if (fromFile !== undefined && fromFile !== '') return { value: fromFile, source: `${variable} in ${dotEnvFile}` };
    return undefined;
  };
  const baseURL = pick(flags.baseUrl, '--base-url', 'OPENAI_BASE_URL');
  const apiKey = pick(flags.apiKey, '--api-key', 'OPENAI_API_KEY');
  if (baseURL) validateBaseURL(baseURL.value, baseURL.source);
  return { baseURL: baseURL?.value, baseURLSource: baseURL?.source, apiKey: apiKey?.value, apiKeySource: apiKey?.source };
}

/** `KEY=value` lines; `export ` prefixes, quotes and `#` comments as dotenv reads them. Missing file: empty. */
export function readDotEnv(file: string): Map<string, string> {
  const values = new Map<string, string>();
  if (!fs.existsSync(file)) return values;
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new ZsdError('invalid-file', 'expected KEY=value', { file, line: index + 1 });
    values.set(match[1], unquote(match[2]));
  });
  return values;
}

/** The password of a URL with credentials (https://user:password@host), to redact it. */
function urlPassword(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const password = new URL(value).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}

function unquote(value: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(value);
  if (quoted) return quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n') : quoted[2];
  return value.replace(/\s+#.*$/, '').trim();
}

function validateBaseURL(value: string, source: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ZsdError('usage', `${source}: "${value}" is not a URL; expected e.g. http://localhost:8000/v1`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ZsdError('usage', `${source}: expected an http(s) URL, got ${url.protocol}`);
}

/** The workspace's `.env`, if any. */
export function dotEnvFileOf(workspaceRoot: string): string {
  return path.join(workspaceRoot, '.env');
}
