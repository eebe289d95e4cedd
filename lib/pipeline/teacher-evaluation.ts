import { ZsdError } from '../core/errors';
import { getTask } from '../data/tasks';
import { evaluateTeacher as evaluateRecordedResponses, type TeacherEvaluation, type TemplateReport } from '../evaluate/evaluate-teacher';
import { rankByAccuracy } from '../evaluate/metrics';
import { updatePromptMetadata } from '../evaluate/prompt-metadata';
import { PALM_TEACHER } from '../teacher/palm';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { resolveRoots, type RootOptions } from './roots';

export interface EvaluateTeacherOptions extends RootOptions {
  task: string;
  split: string;
  /** A model's recorded responses (default the study's gpt-3.5-turbo, query-results/) or `palm` (few-shot PaLM llm/ files). */
  teacher?: string;
  /** Only these template ids. */
  templates?: readonly number[];
  /** Write prompt metadata for the train split (default true; never for PaLM, which has no templates). */
  writeMetadata?: boolean;
}

/** Where the evaluation went: prompt metadata written, not written because the workspace is read-only, or not asked. */
export type MetadataOutcome = { kind: 'written'; file: string } | { kind: 'read-only'; workspace: string } | { kind: 'not-written' };

export interface EvaluateTeacherResult {
  evaluation: TeacherEvaluation;
  /** The templates, best accuracy first. */
  ranked: TemplateReport[];
  metadata: MetadataOutcome;
}

/**
 * Evaluates a recorded teacher on one split: per prompt template, accuracy, parse errors, explanation rate and
 * explanation statistics; prompt metadata (prompt-metadata/<task>.yaml in the workspace) for the train split.
 */
export function evaluateTeacher(options: EvaluateTeacherOptions): EvaluateTeacherResult {
  const { dataRoot, workspace } = resolveRoots(options);
  const task = getTask(options.task, [dataRoot, workspace.root]);
  if (task.splits.length > 0 && !task.splits.includes(options.split)) {
    throw new ZsdError('usage', `--split ${options.split} is not a split of ${task.name}; expected one of ${task.splits.join(', ')}`);
  }
  const teacher = options.teacher ?? STUDY_MODEL;
  const evaluation = evaluateRecordedResponses({ task, split: options.split, dataRoot, workspace, teacher, templateIds: options.templates });
  const ranked = rankByAccuracy(evaluation.reports);
  let metadata: MetadataOutcome = { kind: 'not-written' };
  if (options.split === 'train' && options.writeMetadata !== false && teacher !== PALM_TEACHER) {
    metadata = workspace.readOnly
      ? { kind: 'read-only', workspace: workspace.root }
      : { kind: 'written', file: updatePromptMetadata(workspace.root, task.name, ranked) };
  }
  return { evaluation, ranked, metadata };
}
