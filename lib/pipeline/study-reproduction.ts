import { getTask } from '../data/tasks';
import { evaluateTeacher, type TeacherEvaluation, type TemplateReport } from '../evaluate/evaluate-teacher';
import { updatePromptMetadata } from '../evaluate/prompt-metadata';
import { matchesPublished, PUBLISHED_TEACHER_ACCURACIES, type PublishedAccuracy } from '../evaluate/published';
import { listRecordedTemplateIds, STUDY_MODEL } from '../teacher/recorded-responses';
import { ignoreEvents, type OnPipelineEvent } from './events';
import { resolveRoots, type RootOptions } from './roots';

export interface ReproduceStudyOptions extends RootOptions {
  /** Write prompt metadata for the train splits into the workspace (default true; never into the read-only data root). */
  writeMetadata?: boolean;
  onEvent?: OnPipelineEvent;
}

/** One published teacher accuracy beside zsd's (null: no recorded response of that template). */
export interface PublishedComparison {
  published: PublishedAccuracy;
  measured: number | null;
  matches: boolean;
}

/** The best template of a task's recorded train responses: accuracy, then explanation rate. */
export interface BestTemplate {
  task: string;
  templates: number;
  best: TemplateReport;
  /** Why the ranking is by explanation rate, when the train split has no gold labels. */
  goldUnavailable?: string;
}

export interface StudyReproduction {
  comparisons: PublishedComparison[];
  bestTemplates: BestTemplate[];
  /** Responses evaluated, every task, split and teacher together. */
  responses: number;
  seconds: number;
  metadataFiles: string[];
  /** Published numbers not reproduced. */
  mismatches: number;
}

/**
 * The recorded zero-shot study, reproduced: every recorded response evaluated (every task, split and template,
 * and the few-shot PaLM teacher), compared with the published teacher accuracies; prompt metadata for the train
 * splits written into the workspace.
 */
export function reproduceStudy(options: ReproduceStudyOptions = {}): StudyReproduction {
  const onEvent = options.onEvent ?? ignoreEvents;
  const started = Date.now();
  const { dataRoot, workspace } = resolveRoots(options);
  const evaluations = new Map<string, TeacherEvaluation>();
  const evaluate = (taskName: string, split: string, teacher: string): TeacherEvaluation => {
    const key = `${taskName}/${split}/${teacher}`;
    let evaluation = evaluations.get(key);
    if (!evaluation) {
      onEvent({ kind: 'info', message: `evaluating ${taskName} ${split} (${teacher})...` });
      evaluation = evaluateTeacher({ task: getTask(taskName), split, dataRoot, workspace, teacher });
      evaluations.set(key, evaluation);
    }
    return evaluation;
  };

  const comparisons = PUBLISHED_TEACHER_ACCURACIES.map((published): PublishedComparison => {
    const report = evaluate(published.task, published.split, published.teacher).reports.find((candidate) => candidate.id === published.template);
    const measured = report?.evaluation.accuracy ?? null;
    return { published, measured, matches: measured !== null && matchesPublished(measured, published) };
  });

  const bestTemplates: BestTemplate[] = [];
  const metadataFiles: string[] = [];
  for (const taskName of ['anli1', 'cqa', 'esnli', 'svamp']) {
    if (listRecordedTemplateIds(workspace, taskName, 'train').length === 0) continue;
    const result = evaluate(taskName, 'train', STUDY_MODEL);
    const ranked = [...result.reports].sort(
      (a, b) => (b.evaluation.accuracy ?? -1) - (a.evaluation.accuracy ?? -1) || b.evaluation.explanation_rate - a.evaluation.explanation_rate,
    );
    bestTemplates.push({ task: taskName, templates: result.reports.length, best: ranked[0], goldUnavailable: result.goldUnavailable });
    if (options.writeMetadata !== false && !workspace.readOnly) metadataFiles.push(updatePromptMetadata(workspace.root, taskName, result.reports));
  }

  const responses = [...evaluations.values()].reduce(
    (sum, evaluation) => sum + evaluation.reports.reduce((inner, report) => inner + report.evaluation.n_responses, 0),
    0,
  );
  return {
    comparisons,
    bestTemplates,
    responses,
    seconds: (Date.now() - started) / 1000,
    metadataFiles,
    mismatches: comparisons.filter((comparison) => !comparison.matches).length,
  };
}
