/**
 * Scores the PyTorch reference's answers with zsd's own rule, and picks the checkpoint as zsd does: the best validation
 * accuracy (strictly better replaces the best, so ties keep the earlier one), whose test answers are then scored.
 *
 *   node dist/lib/student/experiments/pytorch-reference/score.js DIR/plan.json DIR/predictions-<seed>.json [--append runs.jsonl]
 *   node dist/lib/student/experiments/pytorch-reference/score.js --zsd-run RUN_DIR --arm ARM --seed S [--append runs.jsonl]
 *
 * The first form decodes train.py's generated ids with the plan's vocabulary, puts the problem's numbers back (number
 * mapping), scores each evaluation, writes DIR/score-<seed>.json (every evaluation's accuracies; named after the predictions file) and prints one JSON
 * line {framework: 'pytorch', arm, seed, validationAccuracy, testAccuracy, step, seconds, ...}; the second prints the
 * same line for a finished `zsd train` run (its test.json), so both frameworks land in one runs.jsonl.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError } from '../../../core/errors';
import { answerIsCorrect } from '../../evaluate-student';
import { numberMappingOf, unmapNumbers } from '../../number-mapping';
import { loadT5Tokenizer, type T5Tokenizer } from '../../tokenizer';
import { RUN_FILES } from '../../train-results';
import { PLAN_FORMAT_VERSION } from './export-plan';

// ---------------------------------------------------------------------------------------------------------------
// The files, checked at the edge

const ids = z.array(z.array(z.int().nonnegative()));

const evaluationRowSchema = z.looseObject({ index: z.int(), input: z.string(), goldLabel: z.string(), inputIds: z.array(z.int()) });

/** What scoring reads of plan.json (export-plan.ts writes the whole plan). */
const planSchema = z.looseObject({
  formatVersion: z.literal(PLAN_FORMAT_VERSION),
  kind: z.literal('zsd-pytorch-reference-plan'),
  arm: z.string(),
  task: z.string(),
  seed: z.int().nonnegative(),
  answerRule: z.enum(['exact-match', 'equation']),
  data: z.looseObject({ numberMapping: z.boolean() }),
  vocabulary: z.looseObject({ file: z.string() }),
  validation: z.array(evaluationRowSchema),
  test: z.array(evaluationRowSchema),
});
export type ScoredPlan = z.infer<typeof planSchema>;

/** What train.py writes. */
const predictionsSchema = z.looseObject({
  formatVersion: z.literal(1),
  kind: z.literal('zsd-pytorch-reference-predictions'),
  arm: z.string(),
  seed: z.int().nonnegative(),
  totalSteps: z.int().nonnegative(),
  evaluations: z.array(z.looseObject({ step: z.int().nonnegative(), validation: ids, test: ids })),
  timings: z.looseObject({ trainSeconds: z.number(), validationSeconds: z.number(), testSeconds: z.number() }),
});
export type ReferencePredictions = z.infer<typeof predictionsSchema>;

const zsdTestSchema = z.looseObject({
  step: z.int(),
  accuracy: z.number(),
  evalAccuracy: z.number().nullable(),
  trainSteps: z.int(),
  trainDurationSeconds: z.number(),
});

function readChecked<T>(file: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read ${what} ${file}: ${error instanceof Error ? error.message : String(error)}`, { file });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.join('.');
    throw new ZsdError('invalid-file', `${file}: ${what} key "${key}": ${issue.message}`, { file, key });
  }
  return parsed.data;
}

export function readPlanForScoring(file: string): ScoredPlan {
  return readChecked(file, planSchema, 'plan');
}

export function readReferencePredictions(file: string): ReferencePredictions {
  return readChecked(file, predictionsSchema, 'predictions');
}

// ---------------------------------------------------------------------------------------------------------------
// Scoring

/** One line of runs.jsonl; the first keys in this order (run-arms.sh finds finished runs by them). */
export interface ParityLine {
  framework: 'pytorch' | 'zsd';
  arm: string;
  seed: number;
  validationAccuracy: number | null;
  testAccuracy: number;
  /** the update count of the selected checkpoint */
  step: number;
  /** training wall time, validation evaluations included (as zsd's trainDurationSeconds) */
  seconds: number;
  task: string;
  /** updates in the run */
  steps: number;
}

export interface ReferenceScore {
  line: ParityLine;
  evaluations: { step: number; validationAccuracy: number; testAccuracy: number }[];
}

/** The accuracy of generated ids against the rows' gold labels, as evaluateStudent scores its own answers. */
export function accuracyOf(
  plan: ScoredPlan,
  rows: ScoredPlan['validation'],
  generated: readonly (readonly number[])[],
  tokenizer: T5Tokenizer,
  where: string,
): number {
  if (generated.length !== rows.length) throw new ZsdError('invalid-file', `${where}: ${generated.length} answers for ${rows.length} rows`, { key: where });
  if (rows.length === 0) return 0;
  let correct = 0;
  rows.forEach((row, index) => {
    const text = tokenizer.decode(generated[index], { skipSpecialTokens: true, cleanUpTokenizationSpaces: true });
    const prediction = plan.data.numberMapping ? unmapNumbers(text, numberMappingOf(row.input)) : text;
    if (answerIsCorrect(plan.answerRule, prediction, row.goldLabel)) correct++;
  });
  return correct / rows.length;
}

export function scoreReference(plan: ScoredPlan, predictions: ReferencePredictions, tokenizer: T5Tokenizer): ReferenceScore {
  if (predictions.arm !== plan.arm || predictions.seed !== plan.seed) {
    throw new ZsdError('usage', `the predictions are of ${predictions.arm} seed ${predictions.seed}, the plan of ${plan.arm} seed ${plan.seed}`);
  }
  if (predictions.evaluations.length === 0) throw new ZsdError('invalid-file', 'the predictions hold no evaluation', { key: 'evaluations' });
  const evaluations = predictions.evaluations.map((entry, index) => ({
    step: entry.step,
    validationAccuracy: accuracyOf(plan, plan.validation, entry.validation, tokenizer, `evaluations.${index}.validation`),
    testAccuracy: accuracyOf(plan, plan.test, entry.test, tokenizer, `evaluations.${index}.test`),
  }));
  // zsd's selection: strictly better validation accuracy replaces the best; without validation rows, the last weights
  let best = plan.validation.length === 0 ? evaluations.length - 1 : 0;
  if (plan.validation.length > 0)
    evaluations.forEach((entry, index) => {
      if (entry.validationAccuracy > evaluations[best].validationAccuracy) best = index;
    });
  const selected = evaluations[best];
  return {
    line: {
      framework: 'pytorch',
      arm: plan.arm,
      seed: plan.seed,
      validationAccuracy: plan.validation.length === 0 ? null : selected.validationAccuracy,
      testAccuracy: selected.testAccuracy,
      step: selected.step,
      seconds: round(predictions.timings.trainSeconds + predictions.timings.validationSeconds),
      task: plan.task,
      steps: predictions.totalSteps,
    },
    evaluations,
  };
}

/** The same line for a finished `zsd train` run directory. */
export function zsdRunLine(runDirectory: string, arm: string, seed: number, task: string): ParityLine {
  const test = readChecked(path.join(runDirectory, RUN_FILES.test), zsdTestSchema, 'zsd test result');
  return {
    framework: 'zsd',
    arm,
    seed,
    validationAccuracy: test.evalAccuracy,
    testAccuracy: test.accuracy,
    step: test.step,
    seconds: round(test.trainDurationSeconds),
    task,
    steps: test.trainSteps,
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function emit(line: ParityLine, append: string | undefined): void {
  const text = `${JSON.stringify(line)}\n`;
  process.stdout.write(text);
  if (append !== undefined) {
    fs.mkdirSync(path.dirname(path.resolve(append)), { recursive: true });
    fs.appendFileSync(append, text);
  }
}

function main(argv: readonly string[]): void {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let at = 0; at < argv.length; at++) {
    if (argv[at].startsWith('--')) {
      if (at + 1 >= argv.length) throw new ZsdError('usage', `${argv[at]} needs a value`);
      flags.set(argv[at], argv[++at]);
    } else positional.push(argv[at]);
  }
  const append = flags.get('--append');
  const zsdRun = flags.get('--zsd-run');
  if (zsdRun !== undefined) {
    const arm = flags.get('--arm');
    const seed = Number(flags.get('--seed'));
    if (arm === undefined || !Number.isSafeInteger(seed)) throw new ZsdError('usage', '--zsd-run needs --arm NAME and --seed N');
    emit(zsdRunLine(zsdRun, arm, seed, flags.get('--task') ?? 'svamp'), append);
    return;
  }
  if (positional.length !== 2)
    throw new ZsdError(
      'usage',
      'usage: score.js PLAN.json PREDICTIONS.json [--append runs.jsonl] | --zsd-run RUN_DIR --arm ARM --seed S [--task T] [--append runs.jsonl]',
    );
  const [planFile, predictionsFile] = positional;
  const plan = readPlanForScoring(planFile);
  const tokenizer = loadT5Tokenizer(path.join(path.dirname(planFile), plan.vocabulary.file));
  const score = scoreReference(plan, readReferencePredictions(predictionsFile), tokenizer);
  // predictions-<seed>.json -> score-<seed>.json (checkpoint-predictions-<seed>.json -> checkpoint-score-<seed>.json)
  const name = path.basename(predictionsFile);
  const scoreFile = path.join(path.dirname(predictionsFile), name.includes('predictions') ? name.replace('predictions', 'score') : `score-${plan.seed}.json`);
  fs.writeFileSync(`${scoreFile}.tmp`, `${JSON.stringify(score, null, 2)}\n`);
  fs.renameSync(`${scoreFile}.tmp`, scoreFile);
  emit(score.line, append);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`score: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
