/** The trainer's settings: defaults as transformers' Trainer and distilling step-by-step have them, every field checked. */
import { ZsdError } from '../core/errors';
import { answerRuleFor } from './evaluate-student';
import { SCHEDULE_KINDS, type OptimizerConfig, type ScheduleKind } from './optimizers';
import type { T5Model } from './t5-model';

// ---------------------------------------------------------------------------------------------------------------
// Configuration

export interface TrainerConfig {
  /** the task name (svamp: answers compared as equations) */
  task: string;
  mode: 'standard' | 'task_prefix';
  /** weight of the label loss; default 0.5 */
  alpha: number;
  /** examples per micro-step */
  batchSize: number;
  /** micro-steps per update; default 1 */
  gradientAccumulationSteps: number;
  maxInputLength: number;
  /** default 256 (dsbs) */
  maxTargetLength: number;
  /** default true */
  bucketByLength: boolean;
  /** leave rows without a rationale out of the explain batch instead of training on an empty target; default false */
  dropMissingRationales: boolean;
  /**
   * Number mapping (number-mapping.ts) for tasks whose labels are equations: inputs, labels and rationales with the
   * problem's numbers as n0, n1, ...; predictions get the numbers back before they are scored. Default false.
   */
  numberMapping: boolean;
  optimizer: OptimizerConfig;
  /** the base learning rate of the schedule (Adafactor with relative steps ignores it) */
  learningRate: number;
  /** default linear decay without warm-up (transformers' Trainer default) */
  schedule: { kind: ScheduleKind; warmupSteps: number; cycles?: number };
  /** exactly one of maxSteps and epochs; the other null */
  maxSteps: number | null;
  epochs: number | null;
  /** clip the global gradient norm to this; null: no clipping. Default 1.0 (Trainer's max_grad_norm) */
  maxGradNorm: number | null;
  /**
   * Label smoothing ε of the training loss, in [0, 1) (Trainer's label_smoothing_factor): each target token's loss is
   * (1 - ε) * -log p(token) + ε * mean over the vocabulary of -log p. Default 0.
   */
  labelSmoothing: number;
  /** evaluate on the validation split every this many updates (and after the last); null: only after the last */
  evalSteps: number | null;
  evalBatchSize: number;
  evalMaxNewTokens: number;
  /** beam width of the test evaluation of the selected checkpoint (validation during training stays greedy); default 1 */
  testNumBeams: number;
  /** stop after this many evaluations in a row without a better validation accuracy; null: never */
  earlyStoppingPatience: number | null;
  /** a train.json entry every this many updates */
  logSteps: number;
  /** also checkpoint every this many updates (evaluations always checkpoint); null: only at evaluations and the end */
  checkpointSteps: number | null;
  seed: number;
}

export type TrainerConfigInput = Pick<TrainerConfig, 'task' | 'mode' | 'batchSize' | 'maxInputLength' | 'seed'> &
  Partial<Omit<TrainerConfig, 'task' | 'mode' | 'batchSize' | 'maxInputLength' | 'seed'>>;

/** Fills defaults (dsbs / transformers Trainer values) and checks every field, naming the bad one. */
export function resolveTrainerConfig(input: TrainerConfigInput): TrainerConfig {
  const config: TrainerConfig = {
    task: input.task,
    mode: input.mode,
    alpha: input.alpha ?? 0.5,
    batchSize: input.batchSize,
    gradientAccumulationSteps: input.gradientAccumulationSteps ?? 1,
    maxInputLength: input.maxInputLength,
    maxTargetLength: input.maxTargetLength ?? 256,
    bucketByLength: input.bucketByLength ?? true,
    dropMissingRationales: input.dropMissingRationales ?? false,
    numberMapping: input.numberMapping ?? false,
    optimizer: input.optimizer ?? { kind: 'adamw', weightDecay: 0 },
    learningRate: input.learningRate ?? 5e-5,
    schedule: input.schedule ?? { kind: 'linear', warmupSteps: 0 },
    maxSteps: input.maxSteps ?? null,
    epochs: input.epochs ?? null,
    maxGradNorm: input.maxGradNorm === undefined ? 1.0 : input.maxGradNorm,
    labelSmoothing: input.labelSmoothing ?? 0,
    evalSteps: input.evalSteps ?? null,
    evalBatchSize: input.evalBatchSize ?? 32,
    evalMaxNewTokens: input.evalMaxNewTokens ?? 64,
    testNumBeams: input.testNumBeams ?? 1,
    earlyStoppingPatience: input.earlyStoppingPatience ?? null,
    logSteps: input.logSteps ?? 10,
    checkpointSteps: input.checkpointSteps ?? null,
    seed: input.seed,
  };
  const positiveInteger = (key: string, value: number | null, nullable = false) => {
    if (value === null && nullable) return;
    if (!Number.isSafeInteger(value) || (value as number) < 1)
      throw new ZsdError('usage', `${key} must be a positive integer${nullable ? ' or null' : ''}, got ${String(value)}`, { key });
  };
  if (config.mode !== 'standard' && config.mode !== 'task_prefix')
    throw new ZsdError('usage', `unknown mode "${String(config.mode)}"; expected standard or task_prefix`, { key: 'mode' });
  if (config.numberMapping && answerRuleFor(config.task) !== 'equation') {
    throw new ZsdError('usage', `number mapping is for tasks whose labels are equations (svamp), not ${config.task}`, { key: 'numberMapping' });
  }
  if (!(config.alpha >= 0 && config.alpha <= 1)) throw new ZsdError('usage', `alpha must be in [0, 1], got ${config.alpha}`, { key: 'alpha' });
  positiveInteger('batchSize', config.batchSize);
  positiveInteger('gradientAccumulationSteps', config.gradientAccumulationSteps);
  positiveInteger('maxInputLength', config.maxInputLength);
  positiveInteger('maxTargetLength', config.maxTargetLength);
  positiveInteger('maxSteps', config.maxSteps, true);
  positiveInteger('epochs', config.epochs, true);
  if ((config.maxSteps === null) === (config.epochs === null)) throw new ZsdError('usage', 'give exactly one of maxSteps and epochs', { key: 'maxSteps' });
  positiveInteger('evalSteps', config.evalSteps, true);
  positiveInteger('evalBatchSize', config.evalBatchSize);
  positiveInteger('evalMaxNewTokens', config.evalMaxNewTokens);
  positiveInteger('testNumBeams', config.testNumBeams);
  positiveInteger('earlyStoppingPatience', config.earlyStoppingPatience, true);
  positiveInteger('logSteps', config.logSteps);
  positiveInteger('checkpointSteps', config.checkpointSteps, true);
  if (!(config.learningRate >= 0) || !Number.isFinite(config.learningRate))
    throw new ZsdError('usage', `learningRate must be a finite number >= 0, got ${config.learningRate}`, { key: 'learningRate' });
  if (config.maxGradNorm !== null && !(config.maxGradNorm > 0))
    throw new ZsdError('usage', `maxGradNorm must be > 0 or null, got ${config.maxGradNorm}`, { key: 'maxGradNorm' });
  if (!(config.labelSmoothing >= 0 && config.labelSmoothing < 1))
    throw new ZsdError('usage', `labelSmoothing must be in [0, 1), got ${config.labelSmoothing}`, { key: 'labelSmoothing' });
  if (!SCHEDULE_KINDS.includes(config.schedule.kind))
    throw new ZsdError('usage', `unknown schedule "${String(config.schedule.kind)}"; expected ${SCHEDULE_KINDS.join(', ')}`, { key: 'schedule.kind' });
  if (!Number.isSafeInteger(config.schedule.warmupSteps) || config.schedule.warmupSteps < 0)
    throw new ZsdError('usage', `schedule.warmupSteps must be an integer >= 0, got ${config.schedule.warmupSteps}`, { key: 'schedule.warmupSteps' });
  if (!Number.isSafeInteger(config.seed) || config.seed < 0) throw new ZsdError('usage', `seed must be an integer >= 0, got ${config.seed}`, { key: 'seed' });
  return config;
}

/**
 * As transformers' Trainer builds AdamW's parameter groups: layer norms (T5 has no biases) get no weight decay,
 * unless the config names its own no-decay list.
 */
export function withTrainerOptimizerDefaults(optimizer: OptimizerConfig, model: T5Model): OptimizerConfig {
  if (optimizer.kind !== 'adamw' || optimizer.noDecay !== undefined) return optimizer;
  return { ...optimizer, noDecay: [...model.parameters.keys()].filter((name) => name.endsWith('layer_norm.weight')) };
}

/** "key: saved -> now" for the first config field that differs, or undefined. */
export function configDifference(saved: TrainerConfig, now: TrainerConfig): string | undefined {
  const flat = (value: unknown, prefix: string, into: Map<string, string>) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) if (inner !== undefined) flat(inner, prefix === '' ? key : `${prefix}.${key}`, into);
    } else into.set(prefix, JSON.stringify(value));
    return into;
  };
  const a = flat(saved, '', new Map());
  const b = flat(now, '', new Map());
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (a.get(key) !== b.get(key)) return `${key} ${a.get(key) ?? 'unset'} (now ${b.get(key) ?? 'unset'})`;
  }
  return undefined;
}
