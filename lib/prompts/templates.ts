import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, stringify, type Document, type LineCounter } from 'yaml';
import { z } from 'zod';
import { ZsdError, type ErrorLocation } from '../core/errors';
import { workspaceLayers, writeFileAtomic, type Workspace } from '../core/paths';
import { lineOfKey as lineOf, parseYamlText, readYamlFile, type ParsedYaml } from '../core/yaml';
import { compilePythonRegex, PythonRegexError, translatePythonRegex } from './python-regex';
import { missingPlaceholder, placeholdersOf, renderPythonFormat } from './python-format';

/**
 * Prompt templates: `prompt-templates/<task>.yaml` in a workspace, in the study's format
 * `templates: {id: {id, system_message, user_message, label_parse, explanation_parse, swap?}}`.
 * Validated on load: every template renders (placeholders well formed) and its parse pattern compiles.
 */

export interface PromptTemplate {
  id: number;
  systemMessage: string;
  userMessage: string;
  /** Python regular-expression fragment with one capture group for the label. */
  labelParse: string;
  /** Python regular-expression fragment with one capture group for the explanation ('' for none). */
  explanationParse: string;
  /** Explanation pattern first (e.g. math: reasoning, then the number). */
  swap: boolean;
  /** Escape every regex metacharacter in interpolated values; the study escaped only parentheses. */
  escapeValues: boolean;
  /** Free-form provenance from the file's `meta` key (e.g. the OPRO run and round that proposed it). */
  meta?: Readonly<Record<string, unknown>>;
  file: string;
}

export interface TemplateSet {
  task: string;
  file: string;
  templates: ReadonlyMap<number, PromptTemplate>;
}

const templateSchema = z.strictObject({
  id: z.number().int().nonnegative(),
  system_message: z.string(),
  user_message: z.string().min(1),
  label_parse: z.string().min(1),
  explanation_parse: z.string(),
  swap: z.boolean().optional(),
  escape_values: z.boolean().optional(),
  // Free-form provenance some tools add (e.g. OPRO round, parent template).
  meta: z.record(z.string(), z.unknown()).optional(),
});

const templateFileSchema = z.object({
  dataset: z.string().optional(),
  templates: z.record(z.string().regex(/^\d+$/, 'template ids are non-negative integers'), templateSchema),
});

/** The first layer of the workspace that has `prompt-templates/<task>.yaml`. */
export function findTemplateFile(workspace: Workspace, task: string): string {
  for (const layer of workspaceLayers(workspace)) {
    const candidate = path.join(layer, 'prompt-templates', `${task}.yaml`);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new ZsdError(
    'not-found',
    `no prompt templates for task "${task}": looked for prompt-templates/${task}.yaml in ${workspaceLayers(workspace).join(', ')}`,
  );
}

export function loadTemplates(workspace: Workspace, task: string): TemplateSet {
  return loadTemplateFile(findTemplateFile(workspace, task), task);
}

export function loadTemplateFile(file: string, task: string): TemplateSet {
  return templateSetOf(readYamlFile(file), file, task);
}

/** The templates of a file's text (validated as a file would be), named after `file` in errors. */
export function parseTemplateText(text: string, file: string, task: string): TemplateSet {
  return templateSetOf(parseYamlText(text, file), file, task);
}

function templateSetOf({ document, lineCounter }: ParsedYaml, file: string, task: string): TemplateSet {
  const parsed = templateFileSchema.safeParse(document.toJS({ mapAsMap: false }));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.map(String).join('.');
    throw new ZsdError('invalid-template', `${issue.message}${describeExpected(issue)}`, {
      file,
      key: key || undefined,
      line: lineOf(document, lineCounter, issue.path),
    });
  }
  const templates = new Map<number, PromptTemplate>();
  for (const [key, raw] of Object.entries(parsed.data.templates)) {
    const id = Number(key);
    const location = { file, key: `templates.${key}`, line: lineOf(document, lineCounter, ['templates', key]) };
    if (raw.id !== id) throw new ZsdError('invalid-template', `template listed under ${key} says id: ${raw.id}; expected the same id`, location);
    const template: PromptTemplate = {
      id,
      systemMessage: raw.system_message,
      userMessage: raw.user_message,
      labelParse: raw.label_parse,
      explanationParse: raw.explanation_parse,
      swap: raw.swap ?? false,
      escapeValues: raw.escape_values ?? false,
      ...(raw.meta ? { meta: raw.meta } : {}),
      file,
    };
    validateTemplate(template, document, lineCounter);
    templates.set(id, template);
  }
  return { task, file, templates };
}

export function getTemplate(set: TemplateSet, id: number): PromptTemplate {
  const template = set.templates.get(id);
  if (!template) {
    const ids = [...set.templates.keys()];
    throw new ZsdError('not-found', `no template with id ${id} for task "${set.task}" (ids ${summarizeIds(ids)})`, { file: set.file });
  }
  return template;
}

/** Messages for one row, exactly as the study sent them. */
export interface RenderedPrompt {
  system: string;
  user: string;
}

export function renderTemplate(template: PromptTemplate, values: Readonly<Record<string, string>>): RenderedPrompt {
  return {
    system: renderPythonFormat(template.systemMessage, values, templateLocation(template, 'system_message')),
    user: renderPythonFormat(template.userMessage, values, templateLocation(template, 'user_message')),
  };
}

/** The study's `complete_prompt`: system message, newline, user message. */
export function completePrompt(prompt: RenderedPrompt): string {
  return `${prompt.system}\n${prompt.user}`;
}

/** Where the label and the explanation are in a compiled parse pattern. */
export interface ParsePattern {
  regex: RegExp;
  labelGroup: number;
  /** 0 when the template asks for no explanation. */
  explanationGroup: number;
}

const patternCache = new Map<string, RegExp>();
const groupLayoutCache = new Map<PromptTemplate, { labelGroup: number; explanationGroup: number; hasPlaceholders: boolean }>();

/**
 * The parse pattern for one response: label_parse + explanation_parse (explanation first with `swap`),
 * `{placeholder}` values interpolated (parentheses escaped, as the study did), compiled case-insensitive
 * and dot-all. Patterns are cached by their final text, so a task whose patterns take no values compiles once.
 */
export function buildParsePattern(template: PromptTemplate, values: Readonly<Record<string, string>>): ParsePattern {
  const layout = groupLayout(template);
  const source = template.swap ? template.explanationParse + template.labelParse : template.labelParse + template.explanationParse;
  const interpolated = layout.hasPlaceholders ? interpolatePattern(source, values, template) : source;
  let regex = patternCache.get(interpolated);
  if (!regex) {
    try {
      regex = compilePythonRegex(interpolated);
    } catch (error) {
      throw new ZsdError(
        'invalid-template',
        `parse pattern does not compile once values are filled in: ${(error as Error).message}`,
        templateLocation(template, 'label_parse'),
      );
    }
    if (patternCache.size > 50_000) patternCache.clear();
    patternCache.set(interpolated, regex);
  }
  return { regex, labelGroup: layout.labelGroup, explanationGroup: layout.explanationGroup };
}

/**
 * Fills `{name}` in a parse pattern. Other braces are regex syntax (`{2}`, `[{$]`) and stay.
 * The study escaped only "(" and ")" in values, so the other metacharacters of a value act as regex
 * syntax; reproducing its counts needs the same. `escape_values: true` in a template escapes all of them.
 */
function interpolatePattern(source: string, values: Readonly<Record<string, string>>, template: PromptTemplate): string {
  return source.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string | undefined) => {
    if (name === undefined) return whole === '{{' ? '\\{' : '\\}';
    const value = values[name];
    if (value === undefined) throw missingPlaceholder(name, values, templateLocation(template, 'label_parse'));
    return template.escapeValues ? value.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&') : value.replace(/\(/g, '\\(').replace(/\)/g, '\\)');
  });
}

function groupLayout(template: PromptTemplate) {
  let layout = groupLayoutCache.get(template);
  if (!layout) {
    const labelGroups = countGroups(template.labelParse, template, 'label_parse');
    const explanationGroups = countGroups(template.explanationParse, template, 'explanation_parse');
    const hasPlaceholders = /\{[A-Za-z_][A-Za-z0-9_]*\}|\{\{|\}\}/.test(template.labelParse + template.explanationParse);
    layout = template.swap
      ? { labelGroup: explanationGroups + 1, explanationGroup: explanationGroups > 0 ? 1 : 0, hasPlaceholders }
      : { labelGroup: 1, explanationGroup: explanationGroups > 0 ? labelGroups + 1 : 0, hasPlaceholders };
    groupLayoutCache.set(template, layout);
  }
  return layout;
}

/** Capture groups in a pattern fragment, with placeholders replaced by a neutral literal. */
function countGroups(fragment: string, template: PromptTemplate, key: string): number {
  if (fragment === '') return 0;
  const neutral = fragment.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, 'x');
  try {
    const regex = new RegExp(`${translatePythonRegex(neutral)}|`, 'u');
    return regex.exec('')!.length - 1;
  } catch (error) {
    const reason = error instanceof PythonRegexError || error instanceof SyntaxError ? error.message : String(error);
    throw new ZsdError('invalid-template', `${key} is not a valid regular expression: ${reason}`, templateLocation(template, key));
  }
}

function validateTemplate(template: PromptTemplate, document: Document, lineCounter: LineCounter): void {
  for (const key of ['system_message', 'user_message'] as const) {
    const text = key === 'system_message' ? template.systemMessage : template.userMessage;
    const dummy = Object.fromEntries(placeholdersOf(text).map((name) => [name, 'x']));
    const where = { ...templateLocation(template, key), line: lineOf(document, lineCounter, ['templates', String(template.id), key]) };
    renderPythonFormat(text, dummy, where);
  }
  for (const key of ['label_parse', 'explanation_parse'] as const) {
    try {
      countGroups(key === 'label_parse' ? template.labelParse : template.explanationParse, template, key);
    } catch (error) {
      if (error instanceof ZsdError) throw error.relocated({ line: lineOf(document, lineCounter, ['templates', String(template.id), key]) });
      throw error;
    }
  }
  if (countGroups(template.labelParse, template, 'label_parse') < 1) {
    throw new ZsdError(
      'invalid-template',
      'label_parse has no capture group; expected one group around the label, e.g. (true|false)',
      templateLocation(template, 'label_parse'),
    );
  }
  // Compile the whole pattern once with placeholder stand-ins, so a combination error shows at load time.
  const neutralValues = new Proxy({}, { get: () => 'x' }) as Record<string, string>;
  buildParsePattern(template, neutralValues);
}

function templateLocation(template: PromptTemplate, key: string): ErrorLocation {
  return { file: template.file, key: `templates.${template.id}.${key}` };
}

function describeExpected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return ` (expected ${issue.expected})`;
  return '';
}

export function summarizeIds(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  return sorted.length > 12 ? `${sorted.slice(0, 12).join(', ')}, ... ${sorted.length} in all` : sorted.join(', ');
}

/** A template to add to a task's file: the study's fields, plus free-form provenance under `meta`. */
export interface NewTemplate {
  id: number;
  systemMessage: string;
  userMessage: string;
  labelParse: string;
  explanationParse: string;
  swap?: boolean;
  escapeValues?: boolean;
  meta?: Record<string, unknown>;
}

/**
 * Adds templates to the workspace's `prompt-templates/<task>.yaml`. A workspace without its own file first gets
 * a copy of the file it read the task's templates from (the recorded study's), since a workspace file replaces
 * the study's. The new entries are appended as text below the last entry of `templates:`, every byte already
 * there kept; when the file's layout does not allow that (e.g. another key after `templates:`, a flow mapping),
 * the YAML document is edited instead (values kept, layout re-rendered). Either way the result is parsed and
 * checked (old templates unchanged, new ones as given, every template valid) before it replaces the file
 * atomically (temporary file, fsync, rename): a crash leaves the old file or the new one, never half of one.
 * Returns the file written.
 */
export function appendTemplates(workspace: Workspace, task: string, templates: readonly NewTemplate[]): string {
  const target = path.join(workspace.root, 'prompt-templates', `${task}.yaml`);
  if (workspace.readOnly) throw new ZsdError('read-only', `refusing to write ${target}: the workspace is inside the read-only data root`);
  let source: string | undefined;
  try {
    source = findTemplateFile(workspace, task);
  } catch (error) {
    if (!(error instanceof ZsdError && error.kind === 'not-found')) throw error;
  }
  const before = source === undefined ? 'templates:\n' : fs.readFileSync(source, 'utf8');
  const existing = source === undefined ? new Map<number, PromptTemplate>() : parseTemplateText(before, source, task).templates;
  for (const template of templates) {
    if (existing.has(template.id))
      throw new ZsdError('invalid-template', `template id ${template.id} is taken; expected a new id`, { file: source, key: `templates.${template.id}` });
  }
  if (new Set(templates.map((template) => template.id)).size !== templates.length) throw new ZsdError('internal', 'appendTemplates: the same id twice');
  if (templates.length === 0) return target;

  const entries = templates.map((template) => [template.id, templateEntry(template)] as const);
  const candidates = [appendAsText(before, entries), editDocument(before, target, entries)];
  let failure: unknown;
  for (const after of candidates) {
    if (after === undefined) continue;
    try {
      checkAppended(before, after, target, task, entries);
      writeFileAtomic(target, after);
      return target;
    } catch (error) {
      failure = error;
    }
  }
  throw failure instanceof ZsdError ? failure : new ZsdError('internal', `could not add templates to ${target}: ${String(failure)}`, { file: target });
}

type TemplateEntry = Record<string, unknown>;

function templateEntry(template: NewTemplate): TemplateEntry {
  return {
    id: template.id,
    system_message: template.systemMessage,
    user_message: template.userMessage,
    label_parse: template.labelParse,
    explanation_parse: template.explanationParse,
    ...(template.swap ? { swap: true } : {}),
    ...(template.escapeValues ? { escape_values: true } : {}),
    ...(template.meta ? { meta: template.meta } : {}),
  };
}

/** The entries as block YAML under the indentation of the file's template ids; undefined where that layout is not there. */
function appendAsText(before: string, entries: ReadonlyArray<readonly [number, TemplateEntry]>): string | undefined {
  const indent = /^templates:[ \t]*(?:#.*)?\r?\n(?:[ \t]*(?:#.*)?\r?\n)*( +)\d+:/m.exec(before)?.[1];
  if (indent === undefined) return undefined;
  // The study's style: numeric ids, single-quoted strings (YAML 1.1, the reader's version), no line folding.
  const block = entries
    .map(([id, entry]) => {
      const body = stringify(entry, { version: '1.1', lineWidth: 0, indent: 2, defaultStringType: 'QUOTE_SINGLE', defaultKeyType: 'PLAIN' });
      return `\n${id}:\n${body.replace(/^(?=.)/gm, '  ')}`;
    })
    .join('')
    .split('\n')
    .map((line) => (line === '' ? line : indent + line))
    .join('\n');
  const separator = before.endsWith('\n') ? '' : '\n';
  return `${before}${separator}${block}`;
}

function editDocument(before: string, file: string, entries: ReadonlyArray<readonly [number, TemplateEntry]>): string | undefined {
  const { document } = parseYamlText(before, file);
  if (document.contents === null) document.contents = document.createNode({}) as never;
  if (!isMap(document.contents)) return undefined;
  if (!isMap(document.get('templates'))) document.set('templates', document.createNode({}));
  for (const [id, entry] of entries) document.setIn(['templates', id], document.createNode(entry));
  return document.toString({ lineWidth: 0 });
}

function checkAppended(before: string, after: string, file: string, task: string, entries: ReadonlyArray<readonly [number, TemplateEntry]>): void {
  const parsed = (text: string) => (parseYamlText(text, file).document.toJS({ mapAsMap: false }) ?? {}) as { templates?: Record<string, unknown> | null };
  const old = parsed(before);
  const expected = { ...old, templates: { ...(old.templates ?? {}), ...Object.fromEntries(entries.map(([id, entry]) => [String(id), entry])) } };
  if (JSON.stringify(sortedKeys(parsed(after))) !== JSON.stringify(sortedKeys(expected))) {
    throw new ZsdError('internal', 'adding templates would change other content of the file', { file });
  }
  parseTemplateText(after, file, task);
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
  );
}
