import type { TrackingRecord } from '../tracking/tracking-records';
import type { NamedFigure } from './figure';
import {
  explanationLengthFigure,
  explanationRateFigure,
  modelSizeFigure,
  STUDY_EXPLANATION_RATE_STUDIES,
  subsamplingFigure,
  type TeacherLine,
} from './student-figures';

/**
 * Which student figures the study's tracking table and zsd's results tree give, with the selections that
 * reproduce the study's plots:
 * - students were T5-v1_1-base for the subsampling plots, learning rate 5e-05 (the "LR Subsampling" group's 2e-05
 *   runs are another configuration), and the main annotation mixes only: PaLM's rationales (mix 0) and gpt-3.5's
 *   template 100 for ANLI1 (mix 6) or template 3 for CQA (mix 7); label-given (8), long-explanation (9) and
 *   explanation-rate mixes (10-14, 71-75) have their own figures;
 * - fine-tuning uses gold labels (label_type gt), distillation the teacher's (llm).
 */

const STUDY_SOURCE = 'paper/experiment_tracking.csv (the study)';
const MAIN_MIXES: Record<string, string[]> = { anli1: ['0', '6'], cqa: ['0', '7'] };

export interface StudyStudentFigureInputs {
  /** the teachers' validation accuracy on ANLI1 (lines of the model-size figure) */
  teachers: readonly TeacherLine[];
  /** a label per prompt mix of the explanation-length runs (mix id -> label), in plotting order */
  explanationSources: ReadonlyMap<string, string>;
}

export function studyStudentFigures(records: readonly TrackingRecord[], inputs: StudyStudentFigureInputs): NamedFigure[] {
  const figures: NamedFigure[] = [];
  for (const dataset of ['anli1', 'cqa']) {
    for (const [labelType, kind] of [
      ['gt', 'finetuning'],
      ['llm', 'distillation'],
    ] as const) {
      figures.push(
        subsamplingFigure(records, {
          name: `students-subsampling-${dataset}-${kind}`,
          title: `${dataset.toUpperCase()} ${kind === 'finetuning' ? 'fine-tuning (gold labels)' : 'distillation (teacher labels)'}: accuracy vs training-set fraction (T5-v1_1-base)`,
          source: STUDY_SOURCE,
          selection: { dataset, model: 't5-v1_1-base', labelType, lr: 5e-5, mixes: MAIN_MIXES[dataset] },
        }),
      );
    }
  }
  figures.push(
    modelSizeFigure(records, {
      name: 'students-model-size-anli1',
      title: 'ANLI1 fine-tuning: accuracy vs student size (full data)',
      source: STUDY_SOURCE,
      selection: { dataset: 'anli1', subsample: 1, labelType: 'gt', lr: 5e-5, mixes: MAIN_MIXES.anli1 },
      teachers: inputs.teachers,
    }),
  );
  figures.push(explanationLengthFigure(records, 'anli1', inputs.explanationSources, STUDY_SOURCE));
  for (const study of STUDY_EXPLANATION_RATE_STUDIES) figures.push(explanationRateFigure(records, study, STUDY_SOURCE));
  return figures;
}

/**
 * The same plots for zsd's own runs (finished ones), when there are any: accuracy vs training-set fraction, and
 * accuracy vs student at full data (or, without full-data runs, at every fraction). Series are named by task and
 * student, since a results tree may mix them. The explanation-length and explanation-rate plots need the study's
 * experiment groups, which zsd's run keys do not carry, so they are not drawn for results/.
 */
export function resultsStudentFigures(records: readonly TrackingRecord[]): NamedFigure[] {
  const finished = records.filter((record) => record.eval_acc !== null);
  if (finished.length === 0) return [];
  const source = 'results/ (zsd runs)';
  const fullData = finished.filter((record) => record.subsample === 1);
  return [
    subsamplingFigure(finished, {
      name: 'results-students-subsampling',
      title: 'zsd students: accuracy vs training-set fraction',
      source,
      selection: {},
      qualifySeries: true,
    }),
    modelSizeFigure(fullData.length > 0 ? fullData : finished, {
      name: 'results-students-model-size',
      title: 'zsd students: accuracy vs student',
      source,
      selection: fullData.length > 0 ? { subsample: 1 } : {},
      qualifySeries: true,
    }),
  ];
}
