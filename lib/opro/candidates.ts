import { ZsdError } from '../core/errors';
import type { TaskDefinition } from '../data/tasks';
import { placeholdersOf, renderPythonFormat } from '../prompts/python-format';
import { requiredPlaceholders } from './meta-prompt';

/**
 * Candidate instructions from the optimiser's answer. Each one is the text between `<PRT>` and `</PRT>` (the
 * study's markers), trimmed; it becomes the user message of a prompt template, so it must render as one
 * (Python format: `{field}`, `{{` for a brace) and use every field of the task's rows, and never `{label}` (the
 * gold answer). Nothing here throws on a bad answer: every candidate gets a verdict, which the log counts.
 */

export interface OptimizerAnswer {
  /** The first `limit` candidate texts, in answer order. */
  texts: string[];
  /** Candidates past the limit (not scored). */
  extra: string[];
  /** A `<PRT>` never closed (a cut-off answer): its text, not scored. */
  unterminated?: string;
}

export function parseOptimizerAnswer(answer: string, limit: number): OptimizerAnswer {
  const all: string[] = [];
  const pattern = /<PRT>([\s\S]*?)<\/PRT>/gi;
  let end = 0;
  for (const match of answer.matchAll(pattern)) {
    all.push(match[1].trim());
    end = match.index + match[0].length;
  }
  const rest = answer.slice(end);
  const open = rest.search(/<PRT>/i);
  const unterminated = open >= 0 ? rest.slice(open + 5).trim() : undefined;
  return { texts: all.slice(0, limit), extra: all.slice(limit), unterminated };
}

/** Whitespace runs as one space, ends trimmed: instructions equal under this are duplicates. */
export function normalizeInstruction(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Why a candidate cannot be a template of the task, or undefined when it can. */
export function invalidReason(text: string, task: TaskDefinition): string | undefined {
  if (text === '') return 'empty';
  const required = requiredPlaceholders(task);
  try {
    renderPythonFormat(text, new Proxy({}, { get: () => 'x' }) as Record<string, string>, {});
  } catch (error) {
    if (error instanceof ZsdError) return `not a template: ${error.detail}`;
    throw error;
  }
  const used = placeholdersOf(text);
  if (used.includes('label') && task.promptFields.includes('label')) return 'uses {label}, the gold answer';
  const unknown = used.filter((name) => !required.includes(name));
  if (unknown.length > 0)
    return `unknown placeholder ${unknown.map((name) => `{${name}}`).join(', ')}; the task's are ${required.map((name) => `{${name}}`).join(', ')}`;
  const missing = required.filter((name) => !used.includes(name));
  if (missing.length > 0) return `lacks ${missing.map((name) => `{${name}}`).join(', ')}`;
  return undefined;
}

export type CandidateVerdict =
  | { kind: 'accepted'; candidate: number; instruction: string }
  | { kind: 'duplicate'; candidate: number; instruction: string; detail: string }
  | { kind: 'invalid'; candidate: number; instruction: string; detail: string };

/**
 * A verdict per candidate, in answer order: invalid, a duplicate of an instruction already scored in this run
 * (`known`: normalised instruction -> template id) or of an earlier candidate of the same answer, else accepted.
 */
export function judgeCandidates(texts: readonly string[], task: TaskDefinition, known: ReadonlyMap<string, number>): CandidateVerdict[] {
  const seen = new Map<string, number>();
  return texts.map((instruction, candidate) => {
    const reason = invalidReason(instruction, task);
    if (reason !== undefined) return { kind: 'invalid', candidate, instruction, detail: reason };
    const normalized = normalizeInstruction(instruction);
    const scoredAs = known.get(normalized);
    if (scoredAs !== undefined) return { kind: 'duplicate', candidate, instruction, detail: `already scored as template ${scoredAs}` };
    const earlier = seen.get(normalized);
    if (earlier !== undefined) return { kind: 'duplicate', candidate, instruction, detail: `same as candidate ${earlier} of this answer` };
    seen.set(normalized, candidate);
    return { kind: 'accepted', candidate, instruction };
  });
}
