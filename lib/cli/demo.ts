import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { buildFigures } from '../analytics/figures';
import { renderFigures } from '../analytics/render';
import { ZsdError } from '../core/errors';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { taskBaselines, type BaselineReport } from '../evaluate/baselines';
import { loadTemplates } from '../prompts/templates';
import { resolveDataRoot, resolveWorkspace, writeFileAtomic, type Workspace } from '../core/paths';
import { readRun, type RunRecord } from '../student/train-results';
import { answerRuleFor } from '../student/trainer';
import { startFakeOpenAI, type FakeOpenAIServer } from '../teacher/fake-openai-server';
import { parsePriceFlag, type ModelPrice } from '../teacher/prices';
import { listRecordedTemplateIds, readRecordedResponses, STUDY_MODEL } from '../teacher/recorded-responses';
import { readTrackingFile, studyTrackingFile } from '../tracking/tracking-records';
import { updateTracking } from '../tracking/update-tracking';
import { DEFAULT_MACHINE_USD_PER_HOUR, type Comparison } from '../serve/compare';
import { formatComparison, runCompare } from './compare';
import { runExperiment, type ExperimentOptions } from './experiment';
import { runGenerate, type GenerateOptions } from './generate';
import { formatDuration } from './progress';
import { formatTable } from './table';
import { numberFlag, resolveTeacher, savedByStore, STUDY_TEMPERATURE, type TeacherFlags } from './teacher-run';
import { runTrain, type TrainOptions } from './train';

/**
 * `zsd demo`: the whole method on an embedded default, offline, in minutes. A loopback OpenAI-compatible teacher
 * replays the recorded gpt-3.5-turbo study; zsd compares the task's prompt templates on seeded train rows, picks
 * the best, annotates the train split with it (all explanations, and a copy with half of them), trains small
 * students from scratch (standard on gold and on the teacher's labels, step-by-step on the PaLM and the gpt-3.5 rationales), scores them on the
 * test split, puts the best step-by-step student beside the teacher on test rows (`zsd compare`: accuracy, explanation
 * rate, latency, dollars per 1,000 answers), updates experiment tracking, renders the figures, and prints one summary whose numbers are
 * read back from the JSON files it wrote. With --base-url and --model the same runs against a live teacher, after
 * a cost estimate. Every step reuses what exists: a second run asks the teacher nothing and trains nothing.
 */

interface DemoOptions {
  task: string;
  data?: string;
  workspace?: string;
  baseUrl?: string;
  apiKey?: string;
  model: string;
  maxCost: number;
  price?: ModelPrice;
  completionTokens: number;
  samples: number;
  epochs: number;
  subsample: number;
  quick?: boolean;
  figures: boolean;
}

/** The student every demo run trains: small enough to train from scratch on 2 CPU cores in about a minute. */
const STUDENT_FLAGS = {
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

export function demoCommand(): Command {
  return new Command('demo')
    .description('The main job, offline: evaluate prompt templates on a replayed teacher, annotate with the best, train students standard and step-by-step, track, plot, summarise')
    .option('--task <task>', 'task of the demo (its recorded responses must cover the train split)', 'svamp')
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', 'workspace for query results, training data, results and figures (default: current directory)')
    .option('--base-url <url>', 'a live OpenAI-compatible teacher instead of the replayed study (with --model)')
    .option('--api-key <key>', 'API key of the live teacher (default: $OPENAI_API_KEY or .env in the workspace)')
    .option('--model <name>', 'teacher model', STUDY_MODEL)
    .option('--max-cost <dollars>', 'with a live teacher: stop before spending more than this', numberFlag('--max-cost', { min: 0 }), 1)
    .option('--price <prompt,completion>', 'with a live teacher: dollars per 1K prompt and completion tokens when the price table does not know the model (0,0 for a free local server)', parsePriceFlag)
    .option('--completion-tokens <n>', 'with a live teacher: expected completion tokens per answer, for the estimate and the budget', numberFlag('--completion-tokens', { min: 1 }), 150)
    .option('--samples <n>', 'train rows each template is compared on', numberFlag('--samples', { min: 1, integer: true }), 100)
    .option('--epochs <n>', 'student training epochs', numberFlag('--epochs', { min: 1, integer: true }), 4)
    .option('--subsample <fraction>', 'fraction of the train split the students see', numberFlag('--subsample', { min: 0, exclusiveMin: true, max: 1 }), 1)
    .option('--quick', 'smoke-test settings: 20 rows per template, 10% of train, 1 epoch')
    .option('--no-figures', 'do not render figures (they need Debian chromium)')
    .action(async (options: DemoOptions) => {
      await runDemo(options);
    });
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const started = Date.now();
  const dataRoot = resolveDataRoot(options.data);
  const workspace = resolveWorkspace(dataRoot, options.workspace, { recordedResponses: false });
  if (workspace.readOnly) throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);
  const live = options.baseUrl !== undefined;
  const settings = options.quick ? { samples: Math.min(options.samples, 20), subsample: 0.1, epochs: 1 } : { samples: options.samples, subsample: options.subsample, epochs: options.epochs };
  const phase = (title: string) => process.stdout.write(`\n== ${title} (${formatDuration((Date.now() - started) / 1000)})\n`);

  let server: FakeOpenAIServer | undefined;
  if (!live) {
    server = await startFakeOpenAI({ replay: [path.join(dataRoot, 'zero-shot')], fallback: 'error' });
    process.stdout.write(`teacher: ${STUDY_MODEL} replayed from ${path.join(dataRoot, 'zero-shot')} by a loopback server at ${server.url} (no network, no key)\n`);
  } else {
    process.stdout.write(`teacher: ${options.model} at ${options.baseUrl} (budget $${options.maxCost})\n`);
  }
  const teacher: TeacherFlags = {
    model: live ? options.model : STUDY_MODEL,
    baseUrl: server?.url ?? options.baseUrl,
    apiKey: server ? 'replayed-study' : options.apiKey,
    temperature: STUDY_TEMPERATURE,
    concurrency: 16,
    timeout: 60,
    maxAttempts: 8,
    maxCost: live ? options.maxCost : undefined,
    price: options.price,
    completionTokens: live ? options.completionTokens : undefined,
    pollInterval: 30,
  };
  const common = { data: dataRoot, workspace: workspace.root, recorded: false };

  try {
    if (live) await estimateLiveCost(options, settings.samples, teacher, common, workspace);

    phase(`1/5 compare the prompt templates of ${options.task} on ${settings.samples} train rows`);
    // The recorded study answered every svamp train row with template 2 only (1: 222 rows, 3: 80), so the replayed
    // teacher cannot answer every sampled row: templates are compared on the rows all of them answered.
    const experiment = await runExperiment({ ...common, ...teacher, task: options.task, split: 'train', samples: settings.samples, seed: 42, write: true, commonRows: !live } satisfies ExperimentOptions);
    if (!experiment) throw new ZsdError('incomplete', 'the template comparison did not finish (see above); run the demo again to resume');
    const best = live ? experiment.reports[0] : bestRecordedForAllRows(experiment.reports, options.task, dataRoot, workspace);
    const mixId = `demo-${options.task}-${best.id}`;
    const halfMixId = `${mixId}-half`;
    for (const id of [mixId, halfMixId]) writeMix(workspace, id, best.id);

    phase(`2/5 annotate the ${options.task} train split with template ${best.id} (mix ${mixId}; and ${HALF_EXPLANATIONS * 100}% of its explanations as mix ${halfMixId})`);
    const generated = await runGenerate({ ...common, ...teacher, task: options.task, mix: mixId, splits: ['train'] } satisfies GenerateOptions);
    const halfGenerated = await runGenerate({ ...common, ...teacher, task: options.task, mix: halfMixId, splits: ['train'], explanationRate: HALF_EXPLANATIONS } satisfies GenerateOptions);
    if (!generated || !halfGenerated) throw new ZsdError('incomplete', 'annotation did not finish (see above); run the demo again to resume');
    const price = resolveTeacher(teacher, workspace).price;
    const teacherCost = [experiment.run, generated.run].reduce((sum, run) => sum + run.progress.costUsd + savedByStore(run, price).costUsd, 0);

    phase(`3/5 train students from scratch (${STUDENT_FLAGS.model}, ${settings.epochs} epoch(s), ${settings.subsample * 100}% of train${demoNumberMapping(options.task) ? ', number mapping' : ''})`);
    const variants: { name: string; flags: Partial<TrainOptions> }[] = [
      { name: 'standard (gold labels)', flags: { mode: 'standard' } },
      // standard distillation: the teacher's labels instead of the gold ones (the study's label_type llm)
      { name: `standard (${teacher.model} labels)`, flags: { mode: 'standard', labelSource: 'teacher', rationales: ['gpt35'], mix: mixId } },
      { name: 'step-by-step, PaLM rationales', flags: { mode: 'task_prefix', rationales: ['palm'] } },
      { name: `step-by-step, ${teacher.model} rationales`, flags: { mode: 'task_prefix', rationales: ['gpt35'], mix: mixId } },
      { name: `step-by-step, ${teacher.model}, ${HALF_EXPLANATIONS * 100}% explanations`, flags: { mode: 'task_prefix', rationales: ['gpt35'], mix: halfMixId } },
    ];
    const students: { name: string; run: RunRecord; reused: boolean }[] = [];
    for (const variant of variants) {
      process.stdout.write(`-- ${variant.name}\n`);
      const { directory, outcome } = await runTrain({
        ...common,
        ...STUDENT_FLAGS,
        numberMapping: demoNumberMapping(options.task),
        task: options.task,
        mode: 'task_prefix',
        teacherModel: teacher.model,
        labelSource: 'gold',
        subsample: settings.subsample,
        alpha: 0.5,
        optimizer: 'adamw',
        gradAccum: 1,
        epochs: settings.epochs,
        seed: 0,
        skipFinished: true,
        backend: 'auto',
        ...variant.flags,
      } as TrainOptions);
      students.push({ name: variant.name, run: readRun(directory), reused: outcome === null });
    }
    const teacherVsStudent = await compareWithTeacher(options, dataRoot, workspace, teacher.model, best.id, students, settings.samples);

    phase('4/5 update experiment tracking');
    const tracking = updateTracking(workspace.root);
    process.stdout.write(`${tracking.file}: ${tracking.runs} runs (${tracking.changed ? 'updated' : 'unchanged'})\n`);

    phase('5/5 render the figures');
    const analytics = path.join(workspace.root, 'analytics');
    let figureNote: string;
    if (!options.figures) {
      figureNote = 'skipped (--no-figures)';
    } else {
      // The study's figures read its recorded responses, which the demo's teacher steps leave to the loopback server.
      const figures = await buildFigures({ dataRoot, workspace: resolveWorkspace(dataRoot, workspace.root, { recordedResponses: true }) });
      try {
        const rendered = await renderFigures(figures, analytics);
        figureNote = `${rendered.length} figures as PNG, SVG and JSON in ${analytics}`;
      } catch (error) {
        // The numbers matter more than the pictures: without Chromium, write the JSON and say how to get the rest.
        for (const figure of figures) writeFileAtomic(path.join(analytics, `${figure.name}.json`), `${JSON.stringify(figure.data, null, 2)}\n`);
        figureNote = `${figures.length} figure data files (JSON) in ${analytics}; no images: ${(error as Error).message.split('\n')[0]} (install Debian chromium, then npm run figures)`;
      }
    }

    const roots = [dataRoot, workspace.root];
    const task = getTask(options.task, roots);
    const baselines = task.splits.includes('test') ? taskBaselines(task, 'test', roots) : null;
    const summary = demoSummary({
      task: options.task,
      model: teacher.model,
      best,
      experimentRows: experiment.rows,
      teacherCost,
      generated: generated.files[0],
      halfGenerated: halfGenerated.files[0],
      students,
      baselines,
      tracking: tracking.file,
      figureNote,
      workspace,
      seconds: (Date.now() - started) / 1000,
      teacherVsStudent,
      notes: demoNotes(options.task, teacher.model, dataRoot, roots),
    });
    writeFileAtomic(summaryFile(workspace.root), `${JSON.stringify(summary, null, 2)}\n`);
    printSummary(summary, workspace.root);
    process.stdout.write(`\ndemo finished in ${formatDuration(summary.seconds)}\n`);
  } finally {
    await server?.close();
  }
}

/**
 * Teacher vs student (`zsd compare`) on the test split: the best step-by-step student by validation accuracy,
 * served here, against the teacher's recorded answers with the chosen template (the replayed study's, or what a
 * live teacher stored). Written where `zsd figures` draws it. Null, with a line saying why, when the template has no
 * recorded test answers.
 */
async function compareWithTeacher(
  options: DemoOptions,
  dataRoot: string,
  workspace: Workspace,
  model: string,
  templateId: number,
  students: readonly { name: string; run: RunRecord }[],
  samples: number,
): Promise<Comparison | null> {
  const recorded = resolveWorkspace(dataRoot, workspace.root, { recordedResponses: true });
  if (!listRecordedTemplateIds(recorded, options.task, 'test').includes(templateId)) {
    process.stdout.write(`-- teacher vs student: skipped (no recorded ${model} answers to ${options.task} test with template ${templateId})\n`);
    return null;
  }
  const distilled = students.filter((student) => student.run.config.key.mode === 'task_prefix' && student.run.test !== null);
  const best = [...distilled].sort((a, b) => (b.run.test?.evalAccuracy ?? -1) - (a.run.test?.evalAccuracy ?? -1))[0];
  if (best === undefined) return null;
  process.stdout.write(`-- teacher vs student: ${best.name} against ${model}'s test answers (template ${templateId})\n`);
  return runCompare({
    data: dataRoot,
    workspace: workspace.root,
    recorded: true,
    task: options.task,
    split: 'test',
    template: templateId,
    teacher: model,
    price: options.price,
    model: best.run.directory,
    studentName: 'demo-student',
    rows: options.quick ? samples * 2 : undefined,
    concurrency: 8,
    machineCost: DEFAULT_MACHINE_USD_PER_HOUR,
    maxNewTokens: STUDENT_FLAGS.maxTargetLength,
    maxInputLength: 512,
    backend: 'auto',
    quiet: true,
  });
}

/**
 * With the replayed teacher, the best template whose recording answers every train row (else annotation would stop
 * at the first prompt the study never asked); says so when that is not the template ranked first.
 */
function bestRecordedForAllRows<T extends { id: number }>(ranking: readonly T[], task: string, dataRoot: string, workspace: Workspace): T {
  const rows = loadSplit(getTask(task, [dataRoot, workspace.root]), 'train', [dataRoot, workspace.root]).rows.length;
  const study = resolveWorkspace(dataRoot, path.join(dataRoot, 'zero-shot'));
  const recorded = (id: number) => (listRecordedTemplateIds(study, task, 'train').includes(id) ? readRecordedResponses(study, task, 'train', id).length : 0);
  const usable = ranking.find((report) => recorded(report.id) >= rows);
  if (!usable) throw new ZsdError('not-found', `the recorded study answered no ${task} template for all ${rows} train rows; use a live teacher (--base-url)`);
  if (usable !== ranking[0]) {
    process.stdout.write(`template ${ranking[0].id} ranks first, but the recording answers only ${recorded(ranking[0].id)} of ${rows} train rows: annotating with template ${usable.id}, the best that covers them all\n`);
  }
  return usable;
}

/**
 * A live teacher is asked nothing before the cost is estimated: the template comparison exactly, the annotation
 * with the first template standing in for the best one (not known before the comparison). Each step stops before
 * passing --max-cost.
 */
async function estimateLiveCost(options: DemoOptions, samples: number, teacher: TeacherFlags, common: { data: string; workspace: string; recorded: boolean }, workspace: Workspace): Promise<void> {
  process.stdout.write('estimating the teacher cost first (nothing is sent):\n');
  await runExperiment({ ...common, ...teacher, dryRun: true, task: options.task, split: 'train', samples, seed: 42, write: false });
  const first = Math.min(...loadTemplates(workspace, options.task).templates.keys());
  const mixId = `demo-${options.task}-${first}`;
  writeMix(workspace, mixId, first);
  await runGenerate({ ...common, ...teacher, dryRun: true, task: options.task, mix: mixId, splits: ['train'] });
}

function writeMix(workspace: Workspace, id: string, templateId: number): void {
  const file = path.join(workspace.root, 'prompt-mixes', `${id}.yaml`);
  const content = `# written by zsd demo: template ${templateId} gives every label and explanation\nseed: 0\nlabel:\n  ${templateId}: 1.0\nexplanation:\n  ${templateId}: 1.0\n`;
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content) return;
  writeFileAtomic(file, content);
}

/** What the demo prints at the end, written first as `analytics/demo-summary.json`; student numbers come from the run files. */
export interface DemoSummary {
  task: string;
  teacher: { model: string; bestTemplate: number; accuracy: number | null; explanationRate: number; rows: number; costUsd: number };
  annotation: { rows: number; explanationRate: number; halfExplanationRate: number; files: string[] };
  students: { name: string; validationAccuracy: number | null; testAccuracy: number | null; trainSeconds: number | null; reused: boolean; results: string }[];
  /** what needs no training, on the students' test split (chosen on train): the floor every student is read against */
  baselines: { name: string; rule: string; referenceSplit: string; referenceAccuracy: number | null; testAccuracy: number }[];
  outputs: Record<string, string>;
  seconds: number;
  /** `zsd compare` of the best step-by-step student and the teacher on test rows (null when it could not run) */
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
  students: { name: string; run: RunRecord; reused: boolean }[];
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
    notes.push(`${teacherModel}'s labels are its final numbers ("42"), the gold labels equations: a student from scratch cannot do the arithmetic, so the standard student on the teacher's labels learns little here`);
  }
  const file = studyTrackingFile(dataRoot);
  if (!fs.existsSync(file)) return notes;
  const mean = (mode: string, llm: string) => {
    const accuracies = readTrackingFile(file)
      .filter((row) => row.dataset === 'anli1' && row.model === 't5-v1_1-small' && row.subsample === 1 && row.label_type === 'gt' && row.mode === mode && row.llm === llm && row.test_acc !== null)
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

function printSummary(summary: DemoSummary, workspaceRoot: string): void {
  const format = (value: number | null) => (value === null ? 'n/a' : value.toFixed(3));
  const { teacher, annotation } = summary;
  process.stdout.write('\nSummary\n');
  process.stdout.write(
    `${formatTable(
      ['', 'value'],
      [
        ['best template', `${teacher.bestTemplate} (teacher accuracy ${format(teacher.accuracy)} on ${teacher.rows} train rows, explanation rate ${format(teacher.explanationRate)})`],
        ['teacher cost (template comparison + annotation, at list price)', `$${teacher.costUsd.toFixed(4)}`],
        ['annotated train rows', `${annotation.rows} (explanation rate ${format(annotation.explanationRate)}; half copy ${format(annotation.halfExplanationRate)})`],
      ],
    )}\n\n`,
  );
  const rows = summary.students.map((student) => [
    student.name,
    format(student.validationAccuracy),
    format(student.testAccuracy),
    student.trainSeconds === null ? 'n/a' : formatDuration(student.trainSeconds),
    student.reused ? 'reused' : 'trained',
    path.relative(workspaceRoot, student.results),
  ]);
  for (const baseline of summary.baselines) {
    const chosen = baseline.referenceAccuracy === null ? '' : ` (chosen on ${baseline.referenceSplit})`;
    rows.push([`no training: ${baseline.name}`, '-', format(baseline.testAccuracy), '-', '', `${baseline.rule}${chosen}`]);
  }
  process.stdout.write(`${formatTable(['student', 'validation acc', 'test acc', 'train time', '', 'results'], rows)}\n\n`);
  if (summary.teacherVsStudent) process.stdout.write(`teacher vs student (zsd compare), ${formatComparison(summary.teacherVsStudent)}\n\n`);
  for (const note of summary.notes) process.stdout.write(`note: ${note}\n`);
  if (summary.notes.length > 0) process.stdout.write('\n');
  process.stdout.write('where everything is:\n');
  for (const [what, where] of Object.entries(summary.outputs)) process.stdout.write(`  ${what.padEnd(20)}${where}\n`);
}
