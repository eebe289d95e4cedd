import type { OproEstimate } from '../opro/estimate';
import type { RunEstimate } from '../teacher/estimate';
import type { QueryProgress, WaitEvent } from '../teacher/scheduler';
import type { TrainProgress } from '../student/trainer';
import type { DemoStep } from './demo';

/**
 * What a pipeline step reports while it runs. Steps never print: they call `onEvent`, and the caller decides how
 * to show it (the CLI writes lines to stderr/stdout, a notebook displays them, a test collects them).
 */
export type PipelineEvent =
  /** A line a user should read (a decision, a file written, a summary line). */
  | { kind: 'info'; message: string }
  /** Something a user should know that does not stop the step. */
  | { kind: 'warning'; message: string }
  /** Teacher queries: counts, tokens and dollars so far, for one labelled run. */
  | { kind: 'query-progress'; label: string; progress: QueryProgress }
  /** The teacher asked us to wait (rate limit, Retry-After). */
  | { kind: 'query-wait'; label: string; wait: WaitEvent }
  /** A labelled teacher run is about to start: what it will send, where, and what the store already answers. */
  | { kind: 'query-start'; label: string; estimate: RunEstimate; model: string; baseUrl?: string; batch: boolean }
  /** A labelled teacher run is over (its last progress, when it reported any). */
  | { kind: 'query-finished'; label: string; progress?: QueryProgress }
  /** OPRO's estimate of what the rest of a run will send, before it sends anything. */
  | { kind: 'opro-start'; task: string; estimate: OproEstimate }
  /** Student training: the update, loss, evaluation and ETA. */
  | { kind: 'train-progress'; label: string; progress: TrainProgress }
  /** Student training: a validation evaluation (model selection reads these). */
  | { kind: 'train-evaluation'; label: string; step: number; accuracy: number }
  /** Student inference: inputs answered so far. */
  | { kind: 'predict-progress'; done: number; total: number; inputsPerSecond: number; etaSeconds: number }
  /** A long step's stage begins (the demo's five phases). */
  | { kind: 'phase'; title: string; elapsedSeconds: number }
  /** The demo finished one of its inner steps: that step's typed result. */
  | { kind: 'demo-step'; step: DemoStep };

export type OnPipelineEvent = (event: PipelineEvent) => void;

/** For callers that want nothing reported. */
export const ignoreEvents: OnPipelineEvent = () => {};
