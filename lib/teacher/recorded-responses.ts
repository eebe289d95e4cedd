import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { readJsonLines } from '../core/jsonl';
import { responseLayers, type Workspace } from '../core/paths';

/**
 * Recorded teacher responses in the study's layout:
 * `query-results/<task>/<split>/<template id>/responses.json`, JSON Lines with
 * `split, idx, prompt_template_id, prompt_values, complete_prompt, response` (zsd adds model, parameters,
 * usage and a request key). When an idx repeats, the first line counts. The user's workspace is read
 * before the recorded study, so the study's responses behave as a read-only cache layer.
 */

export interface RecordedResponse {
  split: string;
  idx: number;
  promptTemplateId: number;
  promptValues: Readonly<Record<string, string>>;
  completePrompt: string;
  response: string;
  /** Model that answered; absent on the study's lines (all gpt-3.5-turbo). */
  model?: string;
  /** zsd's additions: request key, endpoint, sampling parameters, usage and cost (absent on the study's lines). */
  key?: string;
  endpoint?: 'chat' | 'completion';
  parameters?: Readonly<Record<string, unknown>>;
  usage?: { prompt_tokens: number; completion_tokens: number };
  costUsd?: number;
  file: string;
  line: number;
}

export const STUDY_MODEL = 'gpt-3.5-turbo';

export function responsesFile(root: string, task: string, split: string, templateId: number): string {
  return path.join(root, 'query-results', task, split, String(templateId), 'responses.json');
}

/** Template ids with recorded responses for (task, split) in any layer of the workspace, ascending. */
export function listRecordedTemplateIds(workspace: Workspace, task: string, split: string): number[] {
  const ids = new Set<number>();
  for (const layer of responseLayers(workspace)) {
    const directory = path.join(layer, 'query-results', task, split);
    if (!fs.existsSync(directory)) continue;
    for (const entry of fs.readdirSync(directory)) {
      if (/^\d+$/.test(entry) && fs.existsSync(path.join(directory, entry, 'responses.json'))) ids.add(Number(entry));
    }
  }
  return [...ids].sort((a, b) => a - b);
}

export interface ReadOptions {
  /** Keep only responses of this model (lines without a model are the study's gpt-3.5-turbo). */
  model?: string;
}

/**
 * Responses for one template, first line per idx, workspace before the recorded study. Fails on a file that
 * exists but holds no response, on a malformed line, and on a torn last line (an interrupted write: evaluating
 * around it would silently drop a row).
 */
export function readRecordedResponses(workspace: Workspace, task: string, split: string, templateId: number, options: ReadOptions = {}): RecordedResponse[] {
  const byIndex = new Map<number, RecordedResponse>();
  let filesFound = 0;
  for (const layer of responseLayers(workspace)) {
    const file = responsesFile(layer, task, split, templateId);
    if (!fs.existsSync(file)) continue;
    filesFound++;
    const content = readJsonLines(file);
    if (content.tornTail) {
      throw new ZsdError(
        'invalid-file',
        'last line is incomplete (no newline and not valid JSON): a write was interrupted. The next `zsd query` on this template moves it aside; or delete that line by hand',
        { file, line: content.tornTail.line },
      );
    }
    if (content.lines.length === 0) throw new ZsdError('invalid-file', 'responses file is empty; expected one JSON response per line', { file });
    for (const { line, value } of content.lines) {
      const response = parseResponseLine(value, file, line);
      if (response.promptTemplateId !== templateId) {
        throw new ZsdError('invalid-file', `prompt_template_id ${response.promptTemplateId} in the folder of template ${templateId}`, {
          file,
          line,
          key: 'prompt_template_id',
        });
      }
      if (options.model !== undefined && (response.model ?? STUDY_MODEL) !== options.model) continue;
      if (!byIndex.has(response.idx)) byIndex.set(response.idx, response);
    }
  }
  if (filesFound === 0) {
    throw new ZsdError(
      'not-found',
      `no recorded responses for task "${task}", split "${split}", template ${templateId} in ${responseLayers(workspace).join(', ')}`,
    );
  }
  return [...byIndex.values()];
}

/** Validates one line of a responses file (the study's fields, and zsd's when present). */
export function parseResponseLine(value: unknown, file: string, line: number): RecordedResponse {
  const where = { file, line };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ZsdError('invalid-file', 'expected a JSON object per line', where);
  const record = value as Record<string, unknown>;
  const need = (key: string, type: 'string' | 'integer'): void => {
    const field = record[key];
    const ok = type === 'string' ? typeof field === 'string' : typeof field === 'number' && Number.isInteger(field) && field >= 0;
    if (!ok)
      throw new ZsdError('invalid-file', `expected "${key}" to be ${type === 'string' ? 'a string' : 'a non-negative integer'}, got ${JSON.stringify(field)}`, {
        ...where,
        key,
      });
  };
  need('split', 'string');
  need('idx', 'integer');
  need('prompt_template_id', 'integer');
  need('response', 'string');
  const rawValues = record.prompt_values;
  if (typeof rawValues !== 'object' || rawValues === null || Array.isArray(rawValues)) {
    throw new ZsdError('invalid-file', 'expected "prompt_values" to be an object of placeholder values', { ...where, key: 'prompt_values' });
  }
  const promptValues: Record<string, string> = {};
  for (const [name, field] of Object.entries(rawValues)) {
    if (typeof field !== 'string' && typeof field !== 'number') {
      throw new ZsdError('invalid-file', `expected prompt value "${name}" to be a string, got ${JSON.stringify(field)}`, {
        ...where,
        key: `prompt_values.${name}`,
      });
    }
    promptValues[name] = String(field);
  }
  return {
    split: record.split as string,
    idx: record.idx as number,
    promptTemplateId: record.prompt_template_id as number,
    promptValues,
    completePrompt: typeof record.complete_prompt === 'string' ? record.complete_prompt : '',
    response: record.response as string,
    model: typeof record.model === 'string' ? record.model : undefined,
    key: typeof record.key === 'string' ? record.key : undefined,
    endpoint: record.endpoint === 'chat' || record.endpoint === 'completion' ? record.endpoint : undefined,
    parameters: typeof record.parameters === 'object' && record.parameters !== null ? (record.parameters as Record<string, unknown>) : undefined,
    usage: parseUsage(record.usage),
    costUsd: typeof record.cost_usd === 'number' ? record.cost_usd : undefined,
    file,
    line,
  };
}

function parseUsage(value: unknown): RecordedResponse['usage'] {
  if (typeof value !== 'object' || value === null) return undefined;
  const usage = value as Record<string, unknown>;
  return typeof usage.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number'
    ? { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens }
    : undefined;
}
