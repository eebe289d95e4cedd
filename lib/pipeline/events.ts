import type { QueryProgress, WaitEvent } from '../teacher/scheduler';
import type { TrainProgress } from '../student/trainer';

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
  /** Student training: the update, loss, evaluation and ETA. */
  | { kind: 'train-progress'; label: string; progress: TrainProgress };

export type OnPipelineEvent = (event: PipelineEvent) => void;

/** For callers that want nothing reported. */
export const ignoreEvents: OnPipelineEvent = () => {};
