import * as path from 'node:path';
import type { Workspace } from '../core/paths';
import { getTask } from '../data/tasks';
import { evaluateTeacher } from '../evaluate/evaluate-teacher';
import { loadMix } from '../prompts/mixes';
import { PALM_TEACHER } from '../teacher/palm';
import { listRecordedTemplateIds, STUDY_MODEL } from '../teacher/recorded-responses';
import { annotationCosts, fewShotTokenEstimate } from './annotation-costs';
import { annotationCostFigure, tokensPerQueryFigure } from './cost-figures';
import type { NamedFigure } from './figure';
import { fromScratchFigures, SVAMP_FROM_SCRATCH_RESULTS, testBaselines } from './from-scratch-figure';
import { oproBestSoFarFigure } from './opro-figures';
import { parityFigures, readParityRuns, SVAMP_PARITY_RESULTS } from './parity-figure';
import { promptExperimentFigures } from './prompt-experiment-figures';
import { promptMetadataRecords } from './prompt-metadata-table';
import { resultsStudentFigures, studyStudentFigures } from './student-figure-sets';
import type { TeacherLine } from './student-figures';
import { teacherStudentFigures } from './teacher-student-figure';
import { resultsTrackingRecords, studyTrackingRecords } from './tracking-table';

/**
 * Every analytics figure, in notebook order: prompt experiments (02), costs (03), OPRO (04), students (05), then
 * zsd's from-scratch experiment when `<workspace>/results/experiments/svamp-from-scratch/` has finished runs, its
 * accuracy parity with PyTorch when `<workspace>/results/experiments/svamp-parity/runs.jsonl` has runs, and
 * zsd's own students when `<workspace>/results/` has finished runs, then teacher vs student for each `zsd compare` the
 * workspace keeps (analytics/teacher-vs-student/). What each shows and where its numbers come from:
 * lib/analytics/README.md.
 */
export async function buildFigures(options: { dataRoot: string; workspace: Workspace }): Promise<NamedFigure[]> {
  const { dataRoot, workspace } = options;
  const promptTasks = ['anli1', 'cqa'].filter((task) => listRecordedTemplateIds(workspace, task, 'train').length > 0);
  const metadata = promptTasks.map((task) => promptMetadataRecords({ dataRoot, workspace, task }));
  const costs = annotationCosts({ dataRoot, workspace });
  const studyRecords = studyTrackingRecords(dataRoot);
  return [
    ...promptExperimentFigures(metadata),
    annotationCostFigure(costs),
    tokensPerQueryFigure(costs, fewShotTokenEstimate({ dataRoot, workspace })),
    oproBestSoFarFigure(metadata),
    ...studyStudentFigures(studyRecords, {
      teachers: anli1Teachers(dataRoot, workspace),
      explanationSources: explanationSources(dataRoot, workspace),
    }),
    ...fromScratchFigures(path.join(workspace.root, SVAMP_FROM_SCRATCH_RESULTS), 'svamp-from-scratch', { dataRoot }),
    ...svampParityFigures(workspace, dataRoot),
    ...resultsStudentFigures(resultsTrackingRecords(workspace)),
    ...teacherStudentFigures(workspace.root),
  ];
}

function svampParityFigures(workspace: Workspace, dataRoot: string): NamedFigure[] {
  const runsFile = path.join(workspace.root, SVAMP_PARITY_RESULTS, 'runs.jsonl');
  const runs = readParityRuns(runsFile);
  return runs.length === 0
    ? []
    : parityFigures(runs, { source: `${runsFile} (lib/student/experiments/pytorch-reference/run-arms.sh)`, baselines: testBaselines('svamp', dataRoot) });
}

/** The teachers' ANLI1 validation accuracy (students are compared on validation accuracy too). */
export function anli1Teachers(dataRoot: string, workspace: Workspace): TeacherLine[] {
  const task = getTask('anli1', [dataRoot, workspace.root]);
  const gpt35 = evaluateTeacher({ task, split: 'valid', dataRoot, workspace, teacher: STUDY_MODEL, templateIds: [100] }).reports[0].evaluation.accuracy;
  const palm = evaluateTeacher({ task, split: 'valid', dataRoot, workspace, teacher: PALM_TEACHER }).reports[0].evaluation.accuracy;
  const lines: TeacherLine[] = [];
  if (gpt35 !== null) lines.push({ name: 'gpt-3.5 zero-shot (template 100)', accuracy: gpt35, measuredOn: 'anli1 valid, recorded responses' });
  if (palm !== null) lines.push({ name: 'PaLM few-shot', accuracy: palm, measuredOn: 'anli1 valid, llm/ files' });
  return lines;
}

/**
 * Labels of the rationale sources of the study's explanation-length runs (prompt mixes 0, 6, 8, 9): the template a
 * mix takes its explanations from, and the mean words per explanation where recorded responses of that template
 * (anli1 test) or the PaLM files give it.
 */
export function explanationSources(dataRoot: string, workspace: Workspace): Map<string, string> {
  const task = getTask('anli1', [dataRoot, workspace.root]);
  const words = (teacher: string, template?: number): string => {
    if (template !== undefined && !listRecordedTemplateIds(workspace, 'anli1', 'test').includes(template)) return '';
    const evaluation = evaluateTeacher({ task, split: 'test', dataRoot, workspace, teacher, templateIds: template === undefined ? undefined : [template] })
      .reports[0].evaluation;
    return ` (${evaluation.avg_nr_of_words.toFixed(0)} words)`;
  };
  const sources = new Map<string, string>([['0', `PaLM few-shot${words(PALM_TEACHER)}`]]);
  for (const mix of ['6', '8', '9']) {
    const template = loadMix(workspace, mix).explanation.map((part) => part.templateId);
    const label = template.length === 1 ? `gpt-3.5 t${template[0]}${words(STUDY_MODEL, template[0])}` : `gpt-3.5 mix ${mix}`;
    sources.set(mix, label);
  }
  return sources;
}
