import * as path from 'node:path';
import { trainingDataFile } from '../annotate/training-data-file';
import { ZsdError } from '../core/errors';
import { isMultiTeacherTask, multiTeacherTask } from '../data/multi-teacher';
import { getTask } from '../data/tasks';
import { loadStudentSplit, type LabelSource, type RationaleSourceOption, type StudentExample, type StudentSplit } from './student-examples';

/**
 * What a student run trains, selects and is tested on, decided in one place (`zsd train`, the demo, the notebooks
 * and the PyTorch reference plan read data the same way): the task (a multi-teacher task is one whose directory
 * exists under `<data>/multi-teacher/`, lib/data/multi-teacher.ts), the rationale sources by name, and the
 * validation split (the task's own, else a seeded 10% carved off train; never test).
 */

/** The rationale sources zsd knows by name. */
export const RATIONALE_NAMES = ['palm', 'gpt35', 'flan', 'llama'] as const;

/** The tenth of train held out for model selection where a task has no validation split (seed 0: the same rows for every run). */
export const VALIDATION_CARVE = { fraction: 0.1, seed: 0 } as const;

export interface TrainingSetsOptions {
  dataRoot: string;
  workspaceRoot: string;
  task: string;
  mode: 'task_prefix' | 'standard';
  labelSource: LabelSource;
  /** rationale source names (RATIONALE_NAMES); default palm, gpt35 with a mix, flan and llama on multi-teacher tasks */
  rationales?: readonly string[];
  /** weight per source name (normalised later; default equal) */
  rationaleWeights?: ReadonlyMap<string, number>;
  /** the prompt mix of the gpt35 rationales */
  mix?: string;
  /** the model that wrote the gpt35 rationales (its directory name) */
  teacherModel: string;
  subsample: number;
  seed: number;
  dropMissingRationales?: boolean;
}

export interface TrainingSets {
  /** the task's name (a multi-teacher task keeps the name it was given) */
  task: string;
  multiTeacher: boolean;
  rationaleSources: RationaleSourceOption[];
  train: StudentSplit;
  validation: StudentExample[];
  test: StudentExample[];
  /** how the rationales and labels were read, as recorded in the run's config */
  data: { workspaceRoot: string; task: string; labelSource: LabelSource; rationaleSources: RationaleSourceOption[]; dropMissingRationales?: boolean };
}

/** Everything is read and checked before a caller writes anything. */
export function loadTrainingSets(options: TrainingSetsOptions): TrainingSets {
  const { dataRoot, workspaceRoot } = options;
  const definition = multiTeacherTask(options.task, dataRoot) ?? getTask(options.task, [dataRoot, workspaceRoot]);
  const multiTeacher = isMultiTeacherTask(definition, dataRoot);
  const { name: task, splits } = definition;
  const rationaleSources = options.mode === 'standard' && options.labelSource === 'gold' ? [] : rationaleSourcesFor(options, task, multiTeacher);
  const common = {
    dataRoot,
    workspaceRoot,
    task,
    labelSource: options.labelSource,
    rationaleSources,
    dropMissingRationales: options.dropMissingRationales,
  } as const;
  const hasValid = splits.includes('valid');
  const train = loadStudentSplit({
    ...common,
    split: 'train',
    subsample: options.subsample,
    seed: options.seed,
    carveValidation: hasValid ? undefined : { ...VALIDATION_CARVE },
  });
  const evaluationSplit = (split: string) => loadStudentSplit({ ...common, labelSource: 'gold', rationaleSources: [], split }).examples;
  const validation = hasValid ? evaluationSplit('valid') : (train.validation ?? []);
  const test = splits.includes('test') ? evaluationSplit('test') : [];
  const data = { workspaceRoot, task, labelSource: options.labelSource, rationaleSources, dropMissingRationales: options.dropMissingRationales };
  return { task, multiTeacher, rationaleSources, train, validation, test, data };
}

/** The named rationale sources, with their weights and files; a name that does not fit the task is a usage error. */
export function rationaleSourcesFor(
  options: Pick<TrainingSetsOptions, 'rationales' | 'rationaleWeights' | 'mix' | 'teacherModel' | 'workspaceRoot'>,
  task: string,
  multiTeacher: boolean,
): RationaleSourceOption[] {
  const names = options.rationales ?? (multiTeacher ? ['flan', 'llama'] : options.mix ? ['gpt35'] : ['palm']);
  const weights = options.rationaleWeights ?? new Map<string, number>();
  for (const name of weights.keys()) {
    if (!names.includes(name)) throw new ZsdError('usage', `--rationale-weights names "${name}", which is not among the rationale sources ${names.join(', ')}`);
  }
  return names.map((name) => {
    const weight = weights.get(name) ?? 1;
    switch (name) {
      case 'palm':
        return { name, weight, source: { kind: 'palm' } };
      case 'gpt35': {
        if (!options.mix) throw new ZsdError('usage', 'the gpt35 rationales need --mix (the prompt mix `zsd generate` annotated with)');
        const file = path.dirname(trainingDataFile(options.workspaceRoot, task, options.teacherModel, options.mix, 'train'));
        return { name, weight, source: { kind: 'generated', file } };
      }
      case 'flan':
      case 'llama':
        if (!multiTeacher) throw new ZsdError('usage', `the ${name} rationales exist for the multi-teacher tasks only (obqa, arc, riddle, pubmedqa, bioasq)`);
        return { name, weight, source: { kind: 'multi-teacher', teacher: name } };
      default:
        throw new ZsdError('usage', `unknown rationale source "${name}"; expected ${RATIONALE_NAMES.join(', ')}`);
    }
  });
}
