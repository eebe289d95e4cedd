import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Workspace } from '../core/paths';
import { appendTemplates, loadTemplateFile, loadTemplates, type NewTemplate, type PromptTemplate } from '../prompts/templates';
import type { ParsePatterns } from './run-log';

/**
 * Accepted candidates become prompt templates of the task: user message = the instruction, no system message,
 * the run's parse patterns. Ids are decided by what is on disk, so that a resumed round gets the ids the
 * interrupted one wrote:
 *   1. a template of the task with the same content (messages, patterns, swap, escape_values) keeps its id:
 *      the interrupted attempt's own templates, or an older identical one (whose stored answers then count);
 *   2. otherwise the next free id: 1 + the largest id in any layer's `prompt-templates/<task>.yaml`
 *      (the workspace's and the study's), counting up within the round in candidate order.
 * New templates are written (all of a round in one atomic rewrite of the workspace file, the study's copied in
 * first when the workspace has none) before any of them is queried, so every stored answer names a template on disk.
 */

export interface CandidateSpec {
  instruction: string;
  round: number;
  candidate: number;
}

export interface CandidateTemplate {
  template: PromptTemplate;
  /** True when the template was added by this run (now, or by the interrupted attempt of this round). */
  created: boolean;
}

/** The provenance written under `meta` of a template the run adds. */
export function provenance(run: string, round: number, candidate: number): Record<string, unknown> {
  return { source: 'opro', opro_run: run, round, candidate };
}

function addedBy(template: PromptTemplate, run: string): boolean {
  return template.meta?.source === 'opro' && template.meta?.opro_run === run;
}

export function sameContent(template: PromptTemplate, userMessage: string, parse: ParsePatterns): boolean {
  return (
    template.systemMessage === '' &&
    template.userMessage === userMessage &&
    template.labelParse === parse.label_parse &&
    template.explanationParse === parse.explanation_parse &&
    template.swap === parse.swap &&
    template.escapeValues === parse.escape_values
  );
}

/** The largest template id of the task in any layer (the workspace's file and the study's), or 0. */
export function largestTemplateId(workspace: Workspace, task: string): number {
  let largest = 0;
  for (const layer of [workspace.root, ...workspace.readLayers]) {
    const file = path.join(layer, 'prompt-templates', `${task}.yaml`);
    if (!fs.existsSync(file)) continue;
    for (const id of loadTemplateFile(file, task).templates.keys()) largest = Math.max(largest, id);
  }
  return largest;
}

export function templatesForCandidates(
  workspace: Workspace,
  task: string,
  run: string,
  specs: readonly CandidateSpec[],
  parse: ParsePatterns,
): CandidateTemplate[] {
  if (specs.length === 0) return [];
  const current = [...loadTemplates(workspace, task).templates.values()].sort((a, b) => a.id - b.id);
  let nextId = largestTemplateId(workspace, task) + 1;
  const planned: Array<{ existing?: PromptTemplate; added?: NewTemplate }> = specs.map((spec) => {
    const existing = current.find((template) => sameContent(template, spec.instruction, parse));
    if (existing) return { existing };
    const added: NewTemplate = {
      id: nextId++,
      systemMessage: '',
      userMessage: spec.instruction,
      labelParse: parse.label_parse,
      explanationParse: parse.explanation_parse,
      swap: parse.swap,
      escapeValues: parse.escape_values,
      meta: provenance(run, spec.round, spec.candidate),
    };
    return { added };
  });
  const additions = planned.flatMap((plan) => (plan.added ? [plan.added] : []));
  if (additions.length > 0) appendTemplates(workspace, task, additions);
  const after = loadTemplates(workspace, task).templates;
  return planned.map((plan) => {
    const template = after.get(plan.existing?.id ?? plan.added!.id) ?? plan.existing!;
    return { template, created: addedBy(template, run) };
  });
}
