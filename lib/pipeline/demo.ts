import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFigures } from '../analytics/figures';
import { renderFigures } from '../analytics/render';
import { ZsdError } from '../core/errors';
import { resolveDataRoot, resolveWorkspace, writeFileAtomic, type Workspace } from '../core/paths';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { taskBaselines, type BaselineReport } from '../evaluate/baselines';
import { loadTemplates } from '../prompts/templates';
import { DEFAULT_MACHINE_USD_PER_HOUR, type Comparison } from '../serve/compare';
import { readRun, type RunRecord } from '../student/train-results';
import { answerRuleFor } from '../student/trainer';
import type { ModelPrice } from '../teacher/prices';
import { listRecordedTemplateIds, readRecordedResponses, STUDY_MODEL } from '../teacher/recorded-responses';
import { startReplayServer, type ReplayServer } from '../teacher/replay-server';
import { readTrackingFile, studyTrackingFile } from '../tracking/tracking-records';
import { compareTeacherAndStudent, type CompareTeacherAndStudentResult } from './compare-teacher-and-student';
import { ignoreEvents, type OnPipelineEvent } from './events';
import { updateTrackingTable } from './experiment-tracking';
import { generateTrainingData, type GenerateTrainingDataOptions, type GenerateTrainingDataResult } from './generate-training-data';
import { runPromptExperiment, type PromptExperimentResult, type TemplateReport } from './prompt-experiment';
import { savedByStore, STUDY_TEMPERATURE, type QueryingOptions, type TeacherOptions } from './teacher-session';
import { trainStudent, type TrainStudentOptions, type TrainStudentResult } from './train-student';

/**
 * The whole method on an embedded default (`zsd demo`), offline, in minutes. A loopback OpenAI-compatible teacher
 * replays the recorded gpt-3.5-turbo study; the task's prompt templates are compared on seeded train rows, the best
 * is picked, the train split annotated with it (all explanations, and a copy with half of them), small students
 * trained from scratch (standard on gold and on the teacher's labels, step-by-step on the PaLM and the gpt-3.5
 * rationales), scored on the test split, the best step-by-step student put beside the teacher on test rows
 * (accuracy, explanation rate, latency, dollars per 1,000 answers), experiment tracking updated, the figures
 * rendered, and one summary written whose numbers are read back from the JSON files the steps wrote. With `baseUrl`
 * the same runs against a live teacher, after a cost estimate. Every step reuses what exists: a second run asks the
 * teacher nothing and trains nothing.
 */

export interface DemoOptions {
  /** task of the demo (default svamp; its recorded responses must cover the train split) */
  task?: string;
  /** data root (default: $ZSD_DATA or ../shared/data) */
  data?: string;
  /** workspace for query results, training data, results and figures (default: the current directory) */
  workspace?: string;
  /** a live OpenAI-compatible teacher instead of the replayed study */
  baseUrl?: string;
  apiKey?: string;
  /** teacher model (default the study's) */
  model?: string;
  /** with a live teacher: stop before spending more than this (default $1) */
  maxCost?: number;
  /** with a live teacher: dollars per 1K tokens when the price table does not know the model */
  price?: ModelPrice;
  /** with a live teacher: expected completion tokens per answer (default 150) */
  completionTokens?: number;
  /** train rows each template is compared on (default 100) */
  samples?: number;
  /** student training epochs (default 4) */
  epochs?: number;
  /** fraction of the train split the students see (default 1) */
  subsample?: number;
  /** smoke-test settings: 20 rows per template, 10% of train, 1 epoch */
  quick?: boolean;
  /** render the figures (default true; they need Debian chromium) */
  figures?: boolean;
  signal?: AbortSignal;
  onEvent?: OnPipelineEvent;
}

export const DEMO_DEFAULTS = { task: 'svamp', model: STUDY_MODEL, maxCost: 1, completionTokens: 150, samples: 100, epochs: 4, subsample: 1 } as const;

/** The inner steps' typed results as they finish, for callers that show them (`demo-step` events). */
export type DemoStep =
  | { step: 'prompt-experiment'; result: PromptExperimentResult }
  | { step: 'generate-training-data'; result: GenerateTrainingDataResult }
  | { step: 'train-student'; name: string; result: TrainStudentResult }
  | { step: 'compare'; result: CompareTeacherAndStudentResult };

/** The student every demo run trains: small enough to train from scratch on 2 CPU cores in about a minute. */
export const DEMO_STUDENT = {
  model: 'zsd-scratch',
  vocabulary: 'task',
  batchSize: 16,
  lr: 3e-3,
  warmupSteps: 30,
  schedule: 'linear',
  maxInputLength: 96,
  maxTargetLength: 48,
  evalMaxNewTokens: 24,
  workers: 2, // two gradient workers, one core each (wasm, or native TensorFlow contexts), the AdamW update in them
} as const;

/**
 * Equation tasks: the students write the problem's numbers as placeholders (number mapping), since a student from
 * scratch cannot learn to copy digits from a few hundred problems.
 */
function demoNumberMapping(task: string): boolean {
  return answerRuleFor(task) === 'equation';
}

/** The share of train explanations the second annotated copy keeps (the study's explanation-rate experiment). */
const HALF_EXPLANATIONS = 0.5;

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const started = Date.now();
  const onEvent = options.onEvent ?? ignoreEvents;
  const info = (message: string) => onEvent({ kind: 'info', message });
  const reportStep = (step: DemoStep) => onEvent({ kind: 'demo-step', step });
  const taskName = options.task ?? DEMO_DEFAULTS.task;
  const dataRoot = resolveDataRoot(options.data);
  const workspace = resolveWorkspace(dataRoot, options.workspace, { recordedResponses: false });
  if (workspace.readOnly) throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);
  const live = options.baseUrl !== undefined;
  const settings = options.quick
    ? { samples: Math.min(options.samples ?? DEMO_DEFAULTS.samples, 20), subsample: 0.1, epochs: 1 }
    : {
        samples: options.samples ?? DEMO_DEFAULTS.samples,
        subsample: options.subsample ?? DEMO_DEFAULTS.subsample,
        epochs: options.epochs ?? DEMO_DEFAULTS.epochs,
      };
  const phase = (title: string) => onEvent({ kind: 'phase', title, elapsedSeconds: (Date.now() - started) / 1000 });

  const model = live ? (options.model ?? DEMO_DEFAULTS.model) : STUDY_MODEL;
  let server: ReplayServer | undefined;
  if (!live) {
    server = await startReplayServer({ replay: [path.join(dataRoot, 'zero-shot')] });
    info(`teacher: ${STUDY_MODEL} replayed from ${path.join(dataRoot, 'zero-shot')} by a loopback server at ${server.url} (no network, no key)`);
  } else {
    info(`teacher: ${model} at ${options.baseUrl} (budget $${options.maxCost ?? DEMO_DEFAULTS.maxCost})`);
  }
  const teacher: TeacherOptions = {
    model,
    baseUrl: server?.url ?? options.baseUrl,
    apiKey: server ? 'replayed-study' : options.apiKey,
    temperature: STUDY_TEMPERATURE,
    price: options.price,
  };
  const querying: QueryingOptions = {
    concurrency: 16,
    timeoutSeconds: 60,
    maxAttempts: 8,
    maxCostUsd: live ? (options.maxCost ?? DEMO_DEFAULTS.maxCost) : undefined,
    completionTokens: live ? (options.completionTokens ?? DEMO_DEFAULTS.completionTokens) : undefined,
  };
  const roots = { data: dataRoot, workspace: workspace.root, recorded: false };
  const teacherStep = { ...roots, teacher, querying, onEvent, signal: options.signal };

  try {
    if (live) await estimateLiveCost(taskName, settings.samples, teacherStep, workspace, reportStep, info);

    phase(`1/5 compare the prompt templates of ${taskName} on ${settings.samples} train rows`);
    // The recorded study answered every svamp train row with template 2 only (1: 222 rows, 3: 80), so the replayed
    // teacher cannot answer every sampled row: templates are compared on the rows all of them answered.
    const experiment = await runPromptExperiment({
      ...teacherStep,
      task: taskName,
      split: 'train',
      samples: settings.samples,
      seed: 42,
      writeMetadata: true,
      commonRows: !live,
    });
    reportStep({ step: 'prompt-experiment', result: experiment });
    if (experiment.kind !== 'ranked') throw new ZsdError('incomplete', 'the template comparison did not finish (see above); run the demo again to resume');
    const best = live ? experiment.reports[0] : bestRecordedForAllRows(experiment.reports, taskName, dataRoot, workspace, info);
    const mixId = `demo-${taskName}-${best.id}`;
    const halfMixId = `${mixId}-half`;
    for (const id of [mixId, halfMixId]) writeMix(workspace, id, best.id);

    phase(
      `2/5 annotate the ${taskName} train split with template ${best.id} (mix ${mixId}; and ${HALF_EXPLANATIONS * 100}% of its explanations as mix ${halfMixId})`,
    );
    const annotate = async (generateOptions: Pick<GenerateTrainingDataOptions, 'mix' | 'explanationRate'>) => {
      const result = await generateTrainingData({ ...teacherStep, task: taskName, splits: ['train'], ...generateOptions });
      reportStep({ step: 'generate-training-data', result });
      if (result.kind !== 'written') throw new ZsdError('incomplete', 'annotation did not finish (see above); run the demo again to resume');
      return result;
    };
    const generated = await annotate({ mix: mixId });
    const halfGenerated = await annotate({ mix: halfMixId, explanationRate: HALF_EXPLANATIONS });
    const teacherCost = [experiment.teacherRun, generated.teacherRun].reduce(
      (sum, { run, teacher: resolved }) => sum + run.progress.costUsd + savedByStore(run, resolved.price).costUsd,
      0,
    );

    phase(
      `3/5 train students from scratch (${DEMO_STUDENT.model}, ${settings.epochs} epoch(s), ${settings.subsample * 100}% of train${demoNumberMapping(taskName) ? ', number mapping' : ''})`,
    );
    const variants: { name: string; options: Partial<TrainStudentOptions> }[] = [
      { name: 'standard (gold labels)', options: { mode: 'standard' } },
      // standard distillation: the teacher's labels instead of the gold ones (the study's label_type llm)
      { name: `standard (${model} labels)`, options: { mode: 'standard', labelSource: 'teacher', rationales: ['gpt35'], mix: mixId } },
      { name: 'step-by-step, PaLM rationales', options: { mode: 'task_prefix', rationales: ['palm'] } },
      { name: `step-by-step, ${model} rationales`, options: { mode: 'task_prefix', rationales: ['gpt35'], mix: mixId } },
      { name: `step-by-step, ${model}, ${HALF_EXPLANATIONS * 100}% explanations`, options: { mode: 'task_prefix', rationales: ['gpt35'], mix: halfMixId } },
    ];
    const students: DemoStudent[] = [];
    for (const variant of variants) {
      info(`-- ${variant.name}`);
      const result = await trainStudent({
        ...roots,
        ...DEMO_STUDENT,
        numberMapping: demoNumberMapping(taskName),
        task: taskName,
        teacherModel: model,
        subsample: settings.subsample,
        epochs: settings.epochs,
        seed: 0,
        skipFinished: true,
        signal: options.signal,
        onEvent,
        ...variant.options,
      });
      reportStep({ step: 'train-student', name: variant.name, result });
      if (result.kind === 'trained' && result.outcome.stopReason === 'interrupted')
        throw new ZsdError('incomplete', `training ${variant.name} was interrupted; run the demo again to resume`);
      students.push({ name: variant.name, run: readRun(result.directory), reused: result.kind === 'finished-already' });
    }
    const compared = await compareWithTeacher({
      task: taskName,
      dataRoot,
      workspace,
      model,
      price: options.price,
      templateId: best.id,
      students,
      rows: options.quick ? settings.samples * 2 : undefined,
      info,
    });
    if (compared) reportStep({ step: 'compare', result: compared });

    phase('4/5 update experiment tracking');
    const tracking = updateTrackingTable(roots);
    info(`${tracking.file}: ${tracking.runs} runs (${tracking.changed ? 'updated' : 'unchanged'})`);

    phase('5/5 render the figures');
    const figureNote = options.figures === false ? 'skipped (--no-figures)' : await renderDemoFigures(dataRoot, workspace, info);

    const taskRoots = [dataRoot, workspace.root];
    const task = getTask(taskName, taskRoots);
    const baselines = task.splits.includes('test') ? taskBaselines(task, 'test', taskRoots) : null;
    const summary = demoSummary({
      task: taskName,
      model,
      best,
      experimentRows: experiment.comparedRows,
      teacherCost,
      generated: generated.files[0],
      halfGenerated: halfGenerated.files[0],
      students,
      baselines,
      tracking: tracking.file,
      figureNote,
      workspace,
      seconds: (Date.now() - started) / 1000,
      teacherVsStudent: compared?.comparison ?? null,
      notes: demoNotes(taskName, model, dataRoot, taskRoots),
    });
    writeFileAtomic(summaryFile(workspace.root), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  } finally {
    await server?.close();
  }
}

interface DemoStudent {
  name: string;
  run: RunRecord;
  reused: boolean;
}

/**
 * The figures from the workspace's results; the study's figures read its recorded responses, which the demo's
 * teacher steps leave to the loopback server. Without Chromium, the figure data (JSON) and a note how to get the rest.
 */
async function renderDemoFigures(dataRoot: string, workspace: Workspace, info: (message: string) => void): Promise<string> {
  const analytics = path.join(workspace.root, 'analytics');
  const figures = await buildFigures({ dataRoot, workspace: resolveWorkspace(dataRoot, workspace.root, { recordedResponses: true }) });
  try {
    const rendered = await renderFigures(figures, analytics, { log: info });
    return `${rendered.length} figures as PNG, SVG and JSON in ${analytics}`;
  } catch (error) {
    // The numbers matter more than the pictures.
    for (const figure of figures) writeFileAtomic(path.join(analytics, `${figure.name}.json`), `${JSON.stringify(figure.data, null, 2)}\n`);
    return `${figures.length} figure data files (JSON) in ${analytics}; no images: ${(error as Error).message.split('\n')[0]} (install Debian chromium, then npm run figures)`;
  }
}

/**
 * Teacher vs student on the test split: the best step-by-step student by validation accuracy, served here, against
 * the teacher's recorded answers with the chosen template (the replayed study's, or what a live teacher stored).
 * Written where the figures read it. Null, with a line saying why, when the template has no recorded test answers.
 */
async function compareWithTeacher(input: {
  task: string;
  dataRoot: string;
  workspace: Workspace;
  model: string;
  price?: ModelPrice;
  templateId: number;
  students: readonly DemoStudent[];
  rows?: number;
  info: (message: string) => void;
}): Promise<CompareTeacherAndStudentResult | null> {
  const { task, model, templateId, info } = input;
  const recorded = resolveWorkspace(input.dataRoot, input.workspace.root, { recordedResponses: true });
  if (!listRecordedTemplateIds(recorded, task, 'test').includes(templateId)) {
    info(`-- teacher vs student: skipped (no recorded ${model} answers to ${task} test with template ${templateId})`);
    return null;
  }
  const distilled = input.students.filter((student) => student.run.config.key.mode === 'task_prefix' && student.run.test !== null);
  const best = [...distilled].sort((a, b) => (b.run.test?.evalAccuracy ?? -1) - (a.run.test?.evalAccuracy ?? -1))[0];
  if (best === undefined) return null;
  info(`-- teacher vs student: ${best.name} against ${model}'s test answers (template ${templateId})`);
  return compareTeacherAndStudent({
    data: input.dataRoot,
    workspace: input.workspace.root,
    recorded: true,
    task,
    split: 'test',
    template: templateId,
    teacher: model,
    price: input.price,
    model: best.run.directory,
    studentName: 'demo-student',
    rows: input.rows,
    concurrency: 8,
    machineCost: DEFAULT_MACHINE_USD_PER_HOUR,
    maxNewTokens: DEMO_STUDENT.maxTargetLength,
    maxInputLength: 512,
  });
}

/**
 * With the replayed teacher, the best template whose recording answers every train row (else annotation would stop
 * at the first prompt the study never asked); says so when that is not the template ranked first.
 */
function bestRecordedForAllRows(
  ranking: readonly TemplateReport[],
  task: string,
  dataRoot: string,
  workspace: Workspace,
  info: (message: string) => void,
): TemplateReport {
  const rows = loadSplit(getTask(task, [dataRoot, workspace.root]), 'train', [dataRoot, workspace.root]).rows.length;
  const study = resolveWorkspace(dataRoot, path.join(dataRoot, 'zero-shot'));
  const recorded = (id: number) => (listRecordedTemplateIds(study, task, 'train').includes(id) ? readRecordedResponses(study, task, 'train', id).length : 0);
  const usable = ranking.find((report) => recorded(report.id) >= rows);
  if (!usable) throw new ZsdError('not-found', `the recorded study answered no ${task} template for all ${rows} train rows; use a live teacher (--base-url)`);
  if (usable !== ranking[0]) {
    info(
      `template ${ranking[0].id} ranks first, but the recording answers only ${recorded(ranking[0].id)} of ${rows} train rows: annotating with template ${usable.id}, the best that covers them all`,
    );
  }
  return usable;
}

/**
 * A live teacher is asked nothing before the cost is estimated: the template comparison exactly, the annotation
 * with the first template standing in for the best one (not known before the comparison). Each step stops before
 * passing the budget.
 */
async function estimateLiveCost(
  task: string,
  samples: number,
  teacherStep: Omit<GenerateTrainingDataOptions, 'task' | 'mix'>,
  workspace: Workspace,
  reportStep: (step: DemoStep) => void,
  info: (message: string) => void,
): Promise<void> {
  info('estimating the teacher cost first (nothing is sent):');
  const dryRun = { ...teacherStep, querying: { ...teacherStep.querying, dryRun: true } };
  reportStep({ step: 'prompt-experiment', result: await runPromptExperiment({ ...dryRun, task, split: 'train', samples, seed: 42, writeMetadata: false }) });
  const first = Math.min(...loadTemplates(workspace, task).templates.keys());
  const mixId = `demo-${task}-${first}`;
  writeMix(workspace, mixId, first);
  reportStep({ step: 'generate-training-data', result: await generateTrainingData({ ...dryRun, task, mix: mixId, splits: ['train'] }) });
}

function writeMix(workspace: Workspace, id: string, templateId: number): void {
  const file = path.join(workspace.root, 'prompt-mixes', `${id}.yaml`);
  const content = `# written by zsd demo: template ${templateId} gives every label and explanation\nseed: 0\nlabel:\n  ${templateId}: 1.0\nexplanation:\n  ${templateId}: 1.0\n`;
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content) return;
  writeFileAtomic(file, content);
}

/** What the demo found, written as `analytics/demo-summary.json`; student numbers come from the run files. */
export interface DemoSummary {
  task: string;
  /** the workspace the demo wrote to; outputs name the files in it */
  workspace: string;
  teacher: { model: string; bestTemplate: number; accuracy: number | null; explanationRate: number; rows: number; costUsd: number };
  annotation: { rows: number; explanationRate: number; halfExplanationRate: number; files: string[] };
  students: { name: string; validationAccuracy: number | null; testAccuracy: number | null; trainSeconds: number | null; reused: boolean; results: string }[];
  /** what needs no training, on the students' test split (chosen on train): the floor every student is read against */
  baselines: { name: string; rule: string; referenceSplit: string; referenceAccuracy: number | null; testAccuracy: number }[];
  outputs: Record<string, string>;
  seconds: number;
  /** the best step-by-step student and the teacher on test rows (null when it could not run) */
  teacherVsStudent: Comparison | null;
  /** how to read the students: what their labels are, and where pretrained students of the study stand */
  notes: string[];
}

interface SummaryInput {
  task: string;
  model: string;
  best: { id: number; evaluation: { accuracy: number | null; explanation_rate: number } };
  experimentRows: number;
  teacherCost: number;
  generated: { file: string; rows: number; explanationRate: number };
  halfGenerated: { file: string; rows: number; explanationRate: number };
  students: DemoStudent[];
  baselines: BaselineReport | null;
  tracking: string;
  figureNote: string;
  workspace: Workspace;
  seconds: number;
  teacherVsStudent: Comparison | null;
  notes: string[];
}

export function demoSummary(input: SummaryInput): DemoSummary {
  const root = input.workspace.root;
  return {
    task: input.task,
    workspace: root,
    teacher: {
      model: input.model,
      bestTemplate: input.best.id,
      accuracy: input.best.evaluation.accuracy,
      explanationRate: input.best.evaluation.explanation_rate,
      rows: input.experimentRows,
      costUsd: input.teacherCost,
    },
    annotation: {
      rows: input.generated.rows,
      explanationRate: input.generated.explanationRate,
      halfExplanationRate: input.halfGenerated.explanationRate,
      files: [input.generated.file, input.halfGenerated.file],
    },
    students: input.students.map(({ name, run, reused }) => ({
      name,
      validationAccuracy: run.test?.evalAccuracy ?? null,
      testAccuracy: run.test?.accuracy ?? null,
      trainSeconds: run.test?.trainDurationSeconds ?? null,
      reused,
      results: run.directory,
    })),
    baselines: (input.baselines?.baselines ?? []).map((baseline) => ({
      name: baseline.name,
      rule: baseline.rule,
      referenceSplit: (input.baselines as BaselineReport).referenceSplit,
      referenceAccuracy: baseline.referenceAccuracy,
      testAccuracy: baseline.accuracy,
    })),
    outputs: {
      'teacher answers': path.join(root, 'query-results', input.task),
      'prompt metadata': path.join(root, 'prompt-metadata', `${input.task}.yaml`),
      'training data': [input.generated.file, input.halfGenerated.file].map((file) => path.dirname(file)).join(', '),
      'student results': path.join(root, 'results', input.task),
      'experiment tracking': input.tracking,
      figures: input.figureNote,
      summary: summaryFile(root),
    },
    seconds: input.seconds,
    teacherVsStudent: input.teacherVsStudent,
    notes: input.notes,
  };
}

/**
 * Two things a reader of the student table needs: on equation tasks, that the teacher's labels are its final numbers
 * (which a student from scratch cannot compute); and how far pretrained students of the study got (its tracking
 * file: T5-v1_1-small on anli1, the task it shares with the demo's kind of run), read from the data root.
 */
function demoNotes(task: string, teacherModel: string, dataRoot: string, roots: string[]): string[] {
  const notes: string[] = [];
  if (answerRuleFor(task) === 'equation') {
    notes.push(
      `${teacherModel}'s labels are its final numbers ("42"), the gold labels equations: a student from scratch cannot do the arithmetic, so the standard student on the teacher's labels learns little here`,
    );
  }
  const file = studyTrackingFile(dataRoot);
  if (!fs.existsSync(file)) return notes;
  const mean = (mode: string, llm: string) => {
    const accuracies = readTrackingFile(file)
      .filter(
        (row) =>
          row.dataset === 'anli1' &&
          row.model === 't5-v1_1-small' &&
          row.subsample === 1 &&
          row.label_type === 'gt' &&
          row.mode === mode &&
          row.llm === llm &&
          row.test_acc !== null,
      )
      .map((row) => row.test_acc as number);
    return accuracies.length === 0 ? null : { value: accuracies.reduce((sum, value) => sum + value, 0) / accuracies.length, runs: accuracies.length };
  };
  const [standard, distilled] = [mean('standard', 'None'), mean('task_prefix', 'palm')];
  const majority = taskBaselines(getTask('anli1', roots), 'test', roots).baselines[0];
  if (standard !== null && distilled !== null) {
    notes.push(
      `these students start from random weights and a few hundred examples; the study's start from pretrained T5: T5-v1_1-small on anli1 reached ${standard.value.toFixed(3)} standard and ${distilled.value.toFixed(3)} step-by-step (PaLM) test accuracy, means of ${standard.runs} and ${distilled.runs} runs, against the ${majority.name} at ${majority.accuracy.toFixed(3)} (${path.relative(dataRoot, file)})`,
    );
  }
  return notes;
}

export function summaryFile(workspaceRoot: string): string {
  return path.join(workspaceRoot, 'analytics', 'demo-summary.json');
}
