import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import { loadSplit, splitFile, type DatasetSplit } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import { parsePalmCompletion, parseTeacherResponse } from '../parse/parse-response';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { readPalmCompletions, PALM_TEACHER } from '../teacher/palm';
import { listRecordedTemplateIds, readRecordedResponses, STUDY_MODEL } from '../teacher/recorded-responses';
import { evaluateOutcomes, type ScoredOutcome, type TemplateEvaluation } from './metrics';

/**
 * Evaluates a recorded teacher on one split: every template with recorded responses (or the PaLM files),
 * parsed and scored against the split's gold labels where the data root has them.
 */

export interface EvaluationRequest {
  task: TaskDefinition;
  split: string;
  dataRoot: string;
  workspace: Workspace;
  /** `gpt-3.5-turbo` (or another model's recorded responses) or `palm`. */
  teacher: string;
  /** Restrict to these template ids (recorded-response teachers only). */
  templateIds?: readonly number[];
}

export interface TemplateReport {
  /** Template id, or "palm". */
  id: string;
  evaluation: TemplateEvaluation;
}

export interface TeacherEvaluation {
  task: string;
  split: string;
  teacher: string;
  reports: TemplateReport[];
  /** Why accuracy is null, when the split's gold labels are not available. */
  goldUnavailable?: string;
}

export function evaluateTeacher(request: EvaluationRequest): TeacherEvaluation {
  const { task, split, dataRoot, workspace } = request;
  const gold = loadGold(request);
  const base = { task: task.name, split, teacher: request.teacher, goldUnavailable: gold.unavailable };
  if (request.teacher === PALM_TEACHER) {
    if (request.templateIds && request.templateIds.length > 0)
      throw new ZsdError('usage', '--templates does not apply to --teacher palm (one set of recorded rationales)');
    const completions = readPalmCompletions(dataRoot, task, split);
    if (gold.split && completions.length !== gold.split.rows.length) {
      throw new ZsdError(
        'invalid-file',
        `${completions.length} PaLM completions for ${gold.split.rows.length} rows of ${task.name} ${split}; expected one per row`,
        { file: gold.split.file },
      );
    }
    const scored = completions.map((completion) => ({ outcome: parsePalmCompletion(completion), gold: gold.split?.rows[completion.index].goldLabel ?? null }));
    return { ...base, reports: [{ id: PALM_TEACHER, evaluation: evaluateOutcomes(task.kind, scored) }] };
  }
  const templates = loadTemplates(workspace, task.name);
  const recorded = listRecordedTemplateIds(workspace, task.name, split);
  const ids = request.templateIds && request.templateIds.length > 0 ? [...request.templateIds] : recorded;
  if (ids.length === 0)
    throw new ZsdError(
      'not-found',
      `no recorded responses for task "${task.name}", split "${split}" (looked in query-results/${task.name}/${split}/ of the workspace and the recorded study)`,
    );
  const reports = ids.map((id) => {
    const template = getTemplate(templates, id);
    if (!recorded.includes(id)) throw new ZsdError('not-found', `template ${id} of task "${task.name}" has no recorded responses for split "${split}"`);
    const model = request.teacher === STUDY_MODEL ? undefined : request.teacher;
    const responses = readRecordedResponses(workspace, task.name, split, id, { model: model ?? STUDY_MODEL });
    const scored: ScoredOutcome[] = responses.map((response) => {
      let goldLabel: string | null = null;
      if (gold.split) {
        const row = gold.split.rows[response.idx];
        if (!row)
          throw new ZsdError('invalid-file', `idx ${response.idx} is beyond the ${gold.split.rows.length} rows of ${task.name} ${split}`, {
            file: response.file,
            line: response.line,
            key: 'idx',
          });
        goldLabel = row.goldLabel;
      }
      return { outcome: parseTeacherResponse(task.kind, template, response.response, response.promptValues), gold: goldLabel };
    });
    return { id: String(id), evaluation: evaluateOutcomes(task.kind, scored) };
  });
  return { ...base, reports };
}

function loadGold(request: EvaluationRequest): { split?: DatasetSplit; unavailable?: string } {
  const roots = [request.dataRoot, request.workspace.root];
  if (!splitFile(request.task, request.split, roots)) {
    return {
      unavailable: `no gold labels: datasets/${request.task.name}/${request.task.name}_${request.split}.json is not in the data root${
        request.task.builtIn && request.split === 'train' && request.task.kind === 'nli' ? " (the study's anli1/esnli train splits are not shipped)" : ''
      }`,
    };
  }
  return { split: loadSplit(request.task, request.split, roots) };
}
