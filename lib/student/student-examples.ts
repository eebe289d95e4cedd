import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTrainingData } from '../annotate/training-data-file';
import { ZsdError } from '../core/errors';
import { NumpyGenerator } from '../core/numpy-random';
import { pythonStrip } from '../core/python';
import { loadSplit, type ExampleRow } from '../data/datasets';
import { isMultiTeacherTask, multiTeacherSplitFile, multiTeacherTask, readMultiTeacherRows } from '../data/multi-teacher';
import { getTask, type TaskDefinition } from '../data/tasks';
import { MULTI_TEACHERS, readMultiTeacherOutputs, splitMultiTeacherOutput, type MultiTeacher } from '../teacher/multi-teacher';
import { palmFiles, readPalmCompletions } from '../teacher/palm';

/**
 * What the student trains on: rows of a split, formatted as distilling-step-by-step (dsbs) formats them, with a
 * label (gold or the teacher's) and one rationale per rationale source (batches.ts makes the batches of an epoch).
 * The files are read by the modules that own their formats: datasets (lib/data), PaLM (lib/teacher/palm.ts),
 * multi-teacher (lib/data and lib/teacher multi-teacher.ts), `zsd generate`'s (lib/annotate/training-data-file.ts).
 *
 * Reproduced from google-research/distilling-step-by-step (data_utils.py, run.py, model_utils.py):
 * - inputs: cqa `{question}\nAnswer Choices:\n(a) {c_0}\n(b) {c_1}...` (CQADatasetLoader.prepare_input),
 *   svamp the dataset's `input` ("Body\nQuestion", SVAMPDatasetLoader.load_from_source), NLI
 *   `tokenizer.eos_token.join([premise, hypothesis])` = `premise</s>hypothesis` (run.py); the T5 tokenizer turns the
 *   literal `</s>` into the end-of-sequence id. Prefixes `predict: ` and `explain: ` (run.py tokenize_function).
 * - `--subsample s`: `train.train_test_split(test_size=1.0 - s, seed=run)['train']`, Hugging Face datasets, which
 *   draws `np.random.default_rng(seed).permutation(n)` (PCG64, not the legacy MT19937) and keeps
 *   `permutation[ceil((1 - s) * n):]`, in permutation order. Ported exactly in lib/core/numpy-random.ts (`NumpyGenerator`).
 * - cqa and svamp have no validation split: `train.train_test_split(test_size=0.1, seed=0)` of the subsampled
 *   train, the test part becoming `valid`. Teacher labels replace the train labels only after that carve, so the
 *   validation rows keep their gold labels (`carveValidation` option of `loadStudentSplit`).
 * - a missing rationale is trained on as an empty target (just `</s>`).
 *
 * Multi-teacher (TinyLLM) tasks: rows from lib/data/multi-teacher.ts, rationales from lib/teacher/multi-teacher.ts;
 * their inputs are formatted like cqa's, with as many choices as the row has.
 */

// ---------------------------------------------------------------------------------------------------------------
// Types

export type RationaleSource =
  /** `datasets/<task>/llm/<split>_CoT_<k>.json` under the data root: few-shot PaLM (rationale and label). */
  | { kind: 'palm' }
  /** A `zsd generate` `<split>_CoT.json` (a directory means `<directory>/<split>_CoT.json`); relative to the workspace. */
  | { kind: 'generated'; file: string }
  /**
   * `multi-teacher/<task>/llm/<split>_CoT_<k>.json` under the data root: a FLAN-T5 and a LLaMA-2 rationale per row.
   * With `teacher`, one rationale (named as the entry); without, two, named `flan` and `llama`, each with the entry's weight.
   */
  | { kind: 'multi-teacher'; teacher?: MultiTeacher };

export interface RationaleSourceOption {
  /** Names the rationale in examples and batches (`palm`, `gpt35`, ...). */
  name: string;
  source: RationaleSource;
  /** Relative weight of this rationale's loss; weights are normalised to sum to 1 over all rationales. */
  weight: number;
}

export interface StudentRationale {
  source: string;
  /** `null`: the teacher gave none (a blank completion, a null explanation); trained on as an empty target unless dropped. */
  text: string | null;
  /** Normalised: the weights of an example's rationale sources sum to 1. */
  weight: number;
}

export interface StudentExample {
  /** Row of the split (0-based line of the dataset file). */
  index: number;
  split: string;
  /** The dsbs input, without task prefix. */
  input: string;
  /** The training target of the predict task. */
  label: string;
  goldLabel: string;
  /** Where `label` came from: the gold label, the teacher, or the gold label because the teacher gave none. */
  labelFrom: 'gold' | 'teacher' | 'gold-fallback';
  /** One entry per rationale source, in option order; an entry is absent where a missing rationale was dropped. */
  rationales: StudentRationale[];
}

export type LabelSource = 'gold' | 'teacher';

export interface LoadStudentExamplesOptions {
  /** The read-only data root (`../shared/data`): datasets, PaLM and multi-teacher files. */
  dataRoot: string;
  /** The workspace: user tasks under `datasets/`, relative `generated` files. */
  workspaceRoot: string;
  task: string | TaskDefinition;
  split: string;
  labelSource: LabelSource;
  rationaleSources: readonly RationaleSourceOption[];
  /** Which rationale source gives the teacher's label; default: the first that has labels (palm, generated). */
  teacherLabelSource?: string;
  /**
   * A row whose teacher label is missing (a null label in a generated file, a PaLM completion whose answer did not
   * parse): `drop` it (default; counted), or train it on the `gold` label (counted as `gold-fallback`).
   * dsbs trained such rows on a blank label; that is not offered.
   */
  missingTeacherLabels?: 'drop' | 'gold';
  /** Fraction of the split to keep, in (0, 1]; dsbs semantics (see the file comment). Default 1. */
  subsample?: number;
  /** Seed of the subsample (dsbs: `--run`). Default 0. */
  seed?: number;
  /**
   * Leave rationale entries whose text is missing out of `rationales` (so `makeBatches` leaves the example out of
   * that explain batch) instead of keeping them with `text: null` (an empty target, as dsbs trained).
   */
  dropMissingRationales?: boolean;
}

export interface StudentSplitCounts {
  /** Rows in the split file. */
  rows: number;
  /** Rows after the subsample (and, with a carve, in its train part). */
  selected: number;
  /** Rows whose teacher label was missing (only with labelSource 'teacher'). */
  missingTeacherLabel: number;
  /** Of those, dropped (`missingTeacherLabels: 'drop'`). */
  droppedMissingTeacherLabel: number;
  /** Of those, trained on the gold label (`missingTeacherLabels: 'gold'`). */
  goldFallback: number;
  /** Per rationale source: selected rows whose rationale is missing. */
  missingRationale: Record<string, number>;
  /** Examples returned (train part with a carve). */
  examples: number;
  /** Validation examples carved off (0 without a carve). */
  validation: number;
}

export interface StudentSplit {
  task: string;
  split: string;
  examples: StudentExample[];
  /** Only with the `carveValidation` option: the carved rows, gold labels, never dropped. */
  validation?: StudentExample[];
  counts: StudentSplitCounts;
  /** Files read: the split, then each rationale source's files. */
  files: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs

/** The literal end-of-sequence token dsbs joins NLI premise and hypothesis with (`tokenizer.eos_token`). */
export const T5_EOS_TOKEN = '</s>';
const CHOICE_LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * The student's input for a row, exactly as dsbs builds it (before `predict: ` / `explain: `):
 * - multiple choice: `{question}\nAnswer Choices:\n(a) {choice}` ... one line per choice (cqa five, TinyLLM tasks as many as they have);
 * - math (svamp): the problem as the dataset stores it ("Body\nQuestion");
 * - nli: `{premise}</s>{hypothesis}`;
 * - a user's generic task: its `input` field.
 */
export function studentInput(task: Pick<TaskDefinition, 'kind'>, row: ExampleRow): string {
  const values = row.promptValues;
  switch (task.kind) {
    case 'multiple-choice': {
      let input = `${values.question}\nAnswer Choices:`;
      for (const letter of CHOICE_LETTERS) {
        const choice = values[`choice_${letter}`];
        if (choice === undefined) break;
        input += `\n(${letter}) ${choice}`;
      }
      return input;
    }
    case 'math':
      return values.question;
    case 'nli':
      return `${values.premise}${T5_EOS_TOKEN}${values.hypothesis}`;
    case 'generic':
      return values.input;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

interface SourceRow {
  label: string | null;
  /** One text per rationale this source yields (two for multi-teacher without `teacher`). */
  rationales: (string | null)[];
}

interface LoadedSource {
  option: RationaleSourceOption;
  names: string[];
  hasLabels: boolean;
  files: string[];
  rows: SourceRow[];
}

/** `loadStudentSplit(...).examples`. */
export function loadStudentExamples(options: LoadStudentExamplesOptions): StudentExample[] {
  return loadStudentSplit(options).examples;
}

/**
 * Loads a split as student examples. With `carveValidation`, reproduces dsbs for tasks without a validation split:
 * subsample (seed `seed`), then carve `fraction` of what is left (seed `carveValidation.seed`, dsbs 0) before any
 * teacher label is applied, so the validation rows are the same whatever the label source, and keep gold labels.
 */
export function loadStudentSplit(options: LoadStudentExamplesOptions & { carveValidation?: CarveOptions }): StudentSplit {
  const subsample = options.subsample ?? 1;
  const seed = options.seed ?? 0;
  checkSubsample(subsample);
  checkSeed(seed, 'seed');
  if (options.labelSource !== 'gold' && options.labelSource !== 'teacher') {
    throw new ZsdError('usage', `unknown label source "${String(options.labelSource)}"; expected gold or teacher`, { key: 'labelSource' });
  }
  const missingTeacherLabels = options.missingTeacherLabels ?? 'drop';
  if (missingTeacherLabels !== 'drop' && missingTeacherLabels !== 'gold') {
    throw new ZsdError('usage', `missingTeacherLabels must be drop or gold, got "${String(missingTeacherLabels)}"`, { key: 'missingTeacherLabels' });
  }
  const weights = normalisedWeights(options.rationaleSources);

  const task = resolveStudentTask(options.task, options.dataRoot, options.workspaceRoot);
  const { rows, file: splitFile } = loadStudentRows(task, options.split, options.dataRoot, options.workspaceRoot);
  const sources = options.rationaleSources.map((option) => loadSource(option, task, options.split, rows.length, options));
  const names = sources.flatMap((source) => source.names);
  const duplicate = names.find((name, position) => names.indexOf(name) !== position);
  if (duplicate !== undefined) {
    throw new ZsdError(
      'usage',
      `two rationale sources are named "${duplicate}"; names must be unique (a multi-teacher source without a teacher is named flan and llama)`,
      {
        key: 'rationaleSources',
      },
    );
  }
  const labelSource = options.labelSource === 'teacher' ? teacherLabelSource(sources, options.teacherLabelSource) : undefined;

  // dsbs order: subsample, then carve, then teacher labels (train part only).
  let selected = Array.from({ length: rows.length }, (_, position) => position);
  if (subsample < 1) selected = huggingFaceTrainTestSplit(rows.length, 1 - subsample, seed, 'subsample').train;
  let validationPositions: number[] | undefined;
  if (options.carveValidation) {
    const carve = carvePositions(selected.length, options.carveValidation, options.split);
    validationPositions = carve.validation.map((position) => selected[position]);
    selected = carve.train.map((position) => selected[position]);
  }

  const counts: StudentSplitCounts = {
    rows: rows.length,
    selected: selected.length,
    missingTeacherLabel: 0,
    droppedMissingTeacherLabel: 0,
    goldFallback: 0,
    missingRationale: Object.fromEntries(names.map((name) => [name, 0])),
    examples: 0,
    validation: 0,
  };
  const dropMissingRationales = options.dropMissingRationales ?? false;
  const rationalesOf = (position: number, count: boolean): StudentRationale[] => {
    const rationales: StudentRationale[] = [];
    for (const source of sources) {
      source.rows[position].rationales.forEach((text, which) => {
        const name = source.names[which];
        if (text === null && count) counts.missingRationale[name]++;
        if (text === null && dropMissingRationales) return;
        rationales.push({ source: name, text, weight: weights.get(source.option) as number });
      });
    }
    return rationales;
  };

  const examples: StudentExample[] = [];
  for (const position of selected) {
    const row = rows[position];
    let label = row.goldLabel;
    let labelFrom: StudentExample['labelFrom'] = 'gold';
    if (labelSource) {
      const teacherLabel = labelSource.rows[position].label;
      if (teacherLabel !== null) {
        label = teacherLabel;
        labelFrom = 'teacher';
      } else {
        counts.missingTeacherLabel++;
        if (missingTeacherLabels === 'drop') {
          counts.droppedMissingTeacherLabel++;
          rationalesOf(position, true); // counts its missing rationales: a dropped row is still a selected row
          continue;
        }
        counts.goldFallback++;
        labelFrom = 'gold-fallback';
      }
    }
    examples.push({
      index: row.index,
      split: options.split,
      input: studentInput(task, row),
      label,
      goldLabel: row.goldLabel,
      labelFrom,
      rationales: rationalesOf(position, true),
    });
  }
  counts.examples = examples.length;

  const validation = validationPositions?.map((position): StudentExample => {
    const row = rows[position];
    return {
      index: row.index,
      split: options.split,
      input: studentInput(task, row),
      label: row.goldLabel,
      goldLabel: row.goldLabel,
      labelFrom: 'gold',
      rationales: rationalesOf(position, false),
    };
  });
  counts.validation = validation?.length ?? 0;
  return {
    task: task.name,
    split: options.split,
    examples,
    ...(validation ? { validation } : {}),
    counts,
    files: [splitFile, ...sources.flatMap((source) => source.files)],
  };
}

function checkSubsample(subsample: number): void {
  if (typeof subsample !== 'number' || !Number.isFinite(subsample) || subsample <= 0 || subsample > 1) {
    throw new ZsdError('usage', `subsample must be a fraction in (0, 1], got ${String(subsample)}`, { key: 'subsample' });
  }
}

export function checkSeed(seed: number, key: string): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ZsdError('usage', `${key} must be a non-negative integer, got ${String(seed)}`, { key });
}

/** Each weight finite and >= 0, their sum positive; returns each option's weight divided by the sum. */
function normalisedWeights(sources: readonly RationaleSourceOption[]): Map<RationaleSourceOption, number> {
  let sum = 0;
  sources.forEach((source, position) => {
    const weight = source.weight;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new ZsdError('usage', `the weight of rationale source "${source.name}" must be a finite number >= 0, got ${String(weight)}`, {
        key: `rationaleSources[${position}].weight`,
      });
    }
    // A multi-teacher source without a teacher yields two rationales, each with the entry's weight.
    sum += source.source?.kind === 'multi-teacher' && source.source.teacher === undefined ? 2 * weight : weight;
  });
  if (sources.length > 0 && !(sum > 0)) {
    throw new ZsdError(
      'usage',
      `rationale weights must sum to a positive number, got ${sources.map((source) => `${source.name}=${source.weight}`).join(', ')} (sum ${sum})`,
      {
        key: 'rationaleSources',
      },
    );
  }
  return new Map(sources.map((source) => [source, source.weight / sum]));
}

function teacherLabelSource(sources: readonly LoadedSource[], name: string | undefined): LoadedSource {
  if (name !== undefined) {
    const named = sources.find((source) => source.option.name === name);
    if (!named)
      throw new ZsdError(
        'usage',
        `teacher label source "${name}" is not one of the rationale sources (${sources.map((source) => source.option.name).join(', ') || 'none'})`,
        { key: 'teacherLabelSource' },
      );
    if (!named.hasLabels)
      throw new ZsdError('usage', `rationale source "${name}" (${named.option.source.kind}) has no labels; palm and generated sources do`, {
        key: 'teacherLabelSource',
      });
    return named;
  }
  const first = sources.find((source) => source.hasLabels);
  if (!first) {
    throw new ZsdError(
      'usage',
      'labelSource "teacher" needs a rationale source with labels (palm or generated); multi-teacher rationales were written given the gold answer and carry no teacher label',
      {
        key: 'labelSource',
      },
    );
  }
  return first;
}

/** Built-in tasks, the TinyLLM tasks under `<dataRoot>/multi-teacher/<task>`, then user tasks (`getTask`). */
export function resolveStudentTask(task: string | TaskDefinition, dataRoot: string, workspaceRoot: string): TaskDefinition {
  if (typeof task !== 'string') return task;
  return multiTeacherTask(task, dataRoot) ?? getTask(task, [dataRoot, workspaceRoot]);
}

function loadStudentRows(task: TaskDefinition, split: string, dataRoot: string, workspaceRoot: string): { rows: readonly ExampleRow[]; file: string } {
  if (isMultiTeacherTask(task, dataRoot)) {
    const file = multiTeacherSplitFile(dataRoot, task.name, split);
    return { rows: readMultiTeacherRows(file), file };
  }
  const loaded = loadSplit(task, split, [dataRoot, workspaceRoot]);
  return { rows: loaded.rows, file: loaded.file };
}

function loadSource(
  option: RationaleSourceOption,
  task: TaskDefinition,
  split: string,
  expectedRows: number,
  options: LoadStudentExamplesOptions,
): LoadedSource {
  const position = options.rationaleSources.indexOf(option);
  if (typeof option.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(option.name)) {
    throw new ZsdError('usage', `a rationale source name is letters, digits, "_", "." or "-", got ${JSON.stringify(option.name)}`, {
      key: `rationaleSources[${position}].name`,
    });
  }
  const source = option.source as RationaleSource | undefined;
  switch (source?.kind) {
    case 'palm': {
      const completions = readPalmCompletions(options.dataRoot, task, split);
      const files = palmFiles(options.dataRoot, task.name, split);
      checkCount(
        completions.length,
        expectedRows,
        `${path.join(path.dirname(files[0]), `${split}_CoT_*.json`)} (${files.length} file${files.length === 1 ? '' : 's'})`,
        task.name,
        split,
      );
      // dsbs leaves '' or ' ' where a completion did not parse; here that is a missing label or rationale.
      const rows = completions.map(({ rationale, label }) => ({ label: blankToNull(label), rationales: [blankToNull(rationale)] }));
      return { option, names: [option.name], hasLabels: true, files, rows };
    }
    case 'generated': {
      if (typeof source.file !== 'string' || source.file === '') {
        throw new ZsdError('usage', 'a generated rationale source needs the file `zsd generate` wrote', { key: `rationaleSources[${position}].source.file` });
      }
      let file = path.resolve(options.workspaceRoot, source.file);
      if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, `${split}_CoT.json`);
      const rows = readTrainingData(file);
      checkCount(rows.length, expectedRows, file, task.name, split);
      return {
        option,
        names: [option.name],
        hasLabels: true,
        files: [file],
        rows: rows.map(({ label, explanation }) => ({ label, rationales: [explanation] })),
      };
    }
    case 'multi-teacher': {
      const teachers = source.teacher === undefined ? MULTI_TEACHERS : [source.teacher];
      if (!teachers.every((teacher) => MULTI_TEACHERS.includes(teacher))) {
        throw new ZsdError('usage', `unknown multi-teacher teacher "${String(source.teacher)}"; expected flan or llama`, {
          key: `rationaleSources[${position}].source.teacher`,
        });
      }
      const { files, outputs } = readMultiTeacherOutputs(options.dataRoot, task.name, split);
      checkCount(
        outputs.length,
        expectedRows,
        `${path.join(path.dirname(files[0]), `${split}_CoT_*.json`)} (${files.length} file${files.length === 1 ? '' : 's'})`,
        task.name,
        split,
      );
      const rows = outputs.map((output) => {
        const both = splitMultiTeacherOutput(output);
        return { label: null, rationales: teachers.map((teacher) => both[teacher]) };
      });
      return { option, names: source.teacher === undefined ? [...MULTI_TEACHERS] : [option.name], hasLabels: false, files, rows };
    }
    default:
      throw new ZsdError(
        'usage',
        `unknown rationale source kind ${JSON.stringify((source as { kind?: unknown } | undefined)?.kind)}; expected palm, generated or multi-teacher`,
        {
          key: `rationaleSources[${position}].source.kind`,
        },
      );
  }
}

function checkCount(actual: number, expected: number, file: string, task: string, split: string): void {
  if (actual === expected) return;
  throw new ZsdError(
    'invalid-file',
    actual < expected
      ? `rationale file is shorter than its split: ${actual} rationales for the ${expected} rows of ${task} ${split}`
      : `rationale file is longer than its split: ${actual} rationales for the ${expected} rows of ${task} ${split}`,
    { file },
  );
}

function blankToNull(text: string): string | null {
  return pythonStrip(text) === '' ? null : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation carve

export interface CarveOptions {
  /** Share of the examples that becomes validation, in (0, 1); dsbs 0.1. */
  fraction?: number;
  /** dsbs: 0. */
  seed?: number;
}

/**
 * A seeded validation part of a train split, as dsbs carves it for cqa and svamp:
 * `train_test_split(test_size=fraction, seed=seed)`, so `ceil(fraction * n)` examples at the front of
 * `default_rng(seed).permutation(n)` are validation, the rest train (both in permutation order). Exactly dsbs's
 * rows when `examples` are dsbs's (the subsampled train, nothing dropped); with teacher labels where rows may be
 * dropped, carve in `loadStudentSplit` instead. Refuses test examples: model selection never sees test.
 */
export function carveValidation(examples: readonly StudentExample[], options: CarveOptions = {}): { train: StudentExample[]; validation: StudentExample[] } {
  const split = examples.find((example) => example.split === 'test')?.split;
  const carve = carvePositions(examples.length, options, split ?? 'train');
  return { train: carve.train.map((position) => examples[position]), validation: carve.validation.map((position) => examples[position]) };
}

function carvePositions(n: number, options: CarveOptions, split: string): { train: number[]; validation: number[] } {
  if (split === 'test')
    throw new ZsdError('usage', 'refusing to carve validation rows from the test split: select models on train or valid data only', { key: 'split' });
  const fraction = options.fraction ?? 0.1;
  const seed = options.seed ?? 0;
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1))
    throw new ZsdError('usage', `validation fraction must be in (0, 1), got ${String(fraction)}`, { key: 'fraction' });
  checkSeed(seed, 'seed');
  if (n === 0) return { train: [], validation: [] };
  const { train, test } = huggingFaceTrainTestSplit(n, fraction, seed, 'fraction');
  return { train, validation: test };
}

/**
 * Hugging Face datasets' `Dataset.train_test_split(test_size=<float>, seed=seed)` on n rows, as positions:
 * `n_test = ceil(test_size * n)`, `n_train = n - n_test`, `p = np.random.default_rng(seed).permutation(n)`,
 * test = `p[:n_test]`, train = `p[n_test:]`. Refuses an empty train part, as datasets does.
 */
export function huggingFaceTrainTestSplit(n: number, testSize: number, seed: number, key = 'testSize'): { train: number[]; test: number[] } {
  if (!(testSize > 0 && testSize < 1)) throw new ZsdError('usage', `test size must be in (0, 1), got ${testSize}`, { key });
  const nTest = Math.ceil(testSize * n);
  const nTrain = n - nTest;
  if (nTrain <= 0) {
    throw new ZsdError('usage', `setting aside ${nTest} of ${n} rows leaves none to train on (datasets' train_test_split fails here too)`, { key });
  }
  const permutation = NumpyGenerator.defaultRng(seed).permutation(n);
  return { train: permutation.slice(nTest), test: permutation.slice(0, nTest) };
}
