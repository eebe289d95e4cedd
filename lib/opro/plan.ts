import { sampleRowIndices } from '../annotate/experiment';
import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import { loadSplit, splitFile } from '../data/datasets';
import { getTask } from '../data/tasks';
import { getTemplate, loadTemplates } from '../prompts/templates';
import type { TeacherSettings } from '../teacher/query-jobs';
import { loadMetaPromptTemplate, renderExamples } from './meta-prompt';
import { checkRunName, defaultRunName, oproRunDirectory, type OproRunIdentity } from './run-log';
import { commonParsePatterns, parsePatternsOf, type FinalPlan, type OproPlan } from './search';

/**
 * From settings to a plan: the seeded rows (numpy `permutation(n)[:N]`, as `experiment`), the start templates,
 * the parse patterns, the meta-prompt, the run's identity and name, and the optional final step's rows. Defaults
 * are computed from the task's own templates, never from those OPRO added, so a resumed run computes the same.
 */

export interface OproSettings {
  workspace: Workspace;
  dataRoot: string;
  task: string;
  split: string;
  seed: number;
  evalSamples: number;
  candidates: number;
  keepBest: number;
  rounds: number;
  startTemplates?: number[];
  parseTemplate?: number;
  metaPrompt?: string;
  scorer: TeacherSettings;
  optimizer: TeacherSettings;
  run?: string;
  /** 0: no final step. */
  finalTop: number;
  finalSamples?: number;
  /** 'none' to skip. */
  validationSplit: string;
  validationSamples?: number;
}

export function planOproRun(settings: OproSettings): OproPlan {
  const { workspace } = settings;
  const roots = [settings.dataRoot, workspace.root];
  const task = getTask(settings.task, roots);
  const split = loadSplit(task, settings.split, roots);
  const rows = sampleRowIndices(split.rows.length, settings.evalSamples, settings.seed).map((index) => split.rows[index]);
  const templates = loadTemplates(workspace, task.name);
  const common = commonParsePatterns([...templates.templates.values()].filter((template) => template.meta?.source !== 'opro'));
  const parse =
    settings.parseTemplate === undefined
      ? common
      : { patterns: parsePatternsOf(getTemplate(templates, settings.parseTemplate)), fromTemplate: settings.parseTemplate };
  const startIds = settings.startTemplates ?? [common.fromTemplate];
  if (new Set(startIds).size !== startIds.length) throw new ZsdError('usage', `--start-templates ${startIds.join(',')} names a template twice`);
  const metaPrompt = loadMetaPromptTemplate(workspace, task.name, settings.metaPrompt);
  const identity: OproRunIdentity = {
    task: task.name,
    split: split.split,
    seed: settings.seed,
    eval_samples: settings.evalSamples,
    candidates: settings.candidates,
    keep_best: settings.keepBest,
    start_templates: startIds,
    parse: { ...parse.patterns, from_template: parse.fromTemplate },
    scorer: settings.scorer,
    optimizer: settings.optimizer,
    meta_prompt: metaPrompt.text,
  };
  const name = settings.run === undefined ? defaultRunName(identity) : checkRunName(settings.run);
  let final: FinalPlan | undefined;
  if (settings.finalTop > 0) {
    const samples = Math.min(split.rows.length, settings.finalSamples ?? 4 * settings.evalSamples);
    if (samples < rows.length)
      throw new ZsdError('usage', `--final-samples ${samples} is fewer than --eval-samples ${rows.length}; the final step re-scores on more rows`);
    // The same seed: the search rows come first, so their answers are reused.
    const finalRows = sampleRowIndices(split.rows.length, samples, settings.seed).map((index) => split.rows[index]);
    final = { top: settings.finalTop, rows: finalRows };
    if (settings.validationSplit !== 'none') {
      if (settings.validationSplit === split.split)
        throw new ZsdError('usage', `--validation-split ${settings.validationSplit} is the search split; pick another split or "none"`);
      if (!splitFile(task, settings.validationSplit, roots)) {
        final.validation = { split: settings.validationSplit, skipped: `task ${task.name} has no ${settings.validationSplit} split` };
      } else {
        const validation = loadSplit(task, settings.validationSplit, roots);
        const count = settings.validationSamples;
        const validationRows =
          count === undefined || count >= validation.rows.length
            ? validation.rows
            : sampleRowIndices(validation.rows.length, count, settings.seed).map((index) => validation.rows[index]);
        final.validation = { split: settings.validationSplit, rows: validationRows };
      }
    }
  }
  return {
    name,
    directory: oproRunDirectory(workspace.root, task.name, name),
    identity,
    metaPromptSource: metaPrompt.source,
    task,
    rows,
    examples: renderExamples(task, rows.slice(0, 3)),
    startTemplates: startIds.map((id) => getTemplate(templates, id)),
    scorer: settings.scorer,
    optimizer: settings.optimizer,
    rounds: settings.rounds,
    final,
  };
}
