import { formatDuration } from '../core/durations';
import type { TrainProgress } from '../student/trainer';
import type { QueryProgress } from '../teacher/scheduler';
import type { DemoStep } from './demo';
import type { PipelineEvent } from './events';

/**
 * One line of text per event, for whoever shows a step's progress (the CLI on stderr, a notebook in its output);
 * `throttledEventLines` keeps progress to a line every few seconds (and the last one) so logs stay short.
 */

export function eventLine(event: PipelineEvent): string {
  switch (event.kind) {
    case 'info':
      return event.message;
    case 'warning':
      return `warning: ${event.message}`;
    case 'query-start':
      return `${event.label}: ${event.estimate.queries} queries to send to ${event.model}${event.baseUrl ? ` at ${event.baseUrl}` : ''} (${event.estimate.cached} answered from the store), estimated $${event.estimate.costUsd.toFixed(4)}`;
    case 'query-progress':
      return `${event.label}: ${queryProgressLine(event.progress)}`;
    case 'query-finished':
      return `${event.label}: done`;
    case 'query-wait':
      return event.wait.kind === 'retry'
        ? `${event.label}: retrying in ${formatDuration(event.wait.delayMs / 1000)} (${event.wait.error.kind}, attempt ${event.wait.attempt} of ${event.wait.maxAttempts})`
        : `${event.label}: waiting (${event.wait.kind})`;
    case 'train-progress':
      return `${event.label}: ${trainProgressLine(event.progress)}`;
    case 'train-evaluation':
      return `step ${event.step}: validation accuracy ${event.accuracy.toFixed(4)}`;
    case 'predict-progress':
      return `predicted ${event.done}/${event.total} · ${event.inputsPerSecond.toFixed(1)} inputs/s · ETA ${formatDuration(event.etaSeconds)}`;
    case 'phase':
      return `== ${event.title} (${formatDuration(event.elapsedSeconds)})`;
    case 'demo-step':
      return demoStepLine(event.step);
    default:
      return `${event.kind}: ${'label' in event ? event.label : ''}`.trim();
  }
}

export function trainProgressLine(progress: TrainProgress): string {
  return (
    `step ${progress.step}/${progress.totalSteps} · epoch ${progress.epoch.toFixed(2)} · loss ${progress.loss.toFixed(4)} (label ${progress.labelLoss.toFixed(4)}` +
    `${progress.rationaleLoss === null ? '' : `, rationale ${progress.rationaleLoss.toFixed(4)}`}) · ${Math.round(progress.tokensPerSecond)} tokens/s · ETA ${formatDuration(progress.etaSeconds)}`
  );
}

export function queryProgressLine(progress: QueryProgress): string {
  const done = progress.fresh + progress.cached + progress.failed + progress.skipped;
  return `${done}/${progress.total} · fresh ${progress.fresh} · cached ${progress.cached} · failed ${progress.failed} · $${progress.costUsd.toFixed(4)}`;
}

/** Whether a progress event is the last of its run (always shown). */
function isFinal(event: PipelineEvent): boolean {
  if (event.kind === 'train-progress') return event.progress.step === event.progress.totalSteps;
  if (event.kind === 'predict-progress') return event.done === event.total;
  if (event.kind === 'query-progress') {
    const { progress } = event;
    return progress.fresh + progress.cached + progress.failed + progress.skipped === progress.total;
  }
  return true;
}

/**
 * An event handler that turns events into lines for `show`: every decision and message, and progress (teacher
 * queries, training updates, predictions) at most once per `everySeconds` per kind, plus each run's last update.
 */
export function throttledEventLines(show: (line: string) => void, options: { everySeconds?: number; now?: () => number } = {}): (event: PipelineEvent) => void {
  const everyMs = (options.everySeconds ?? 5) * 1000;
  const now = options.now ?? Date.now;
  const lastShown = new Map<string, number>();
  return (event) => {
    const progress = event.kind === 'train-progress' || event.kind === 'query-progress' || event.kind === 'predict-progress' || event.kind === 'query-wait';
    if (progress && !isFinal(event)) {
      const key = `${event.kind} ${'label' in event ? event.label : ''}`;
      const last = lastShown.get(key);
      if (last !== undefined && now() - last < everyMs) return;
      lastShown.set(key, now());
    }
    show(eventLine(event));
  };
}

/** What one of the demo's inner steps came to, in a line. */
export function demoStepLine(step: DemoStep): string {
  switch (step.step) {
    case 'prompt-experiment': {
      const { result } = step;
      if (result.kind !== 'ranked') return `templates of ${result.task}: ${result.kind}`;
      const ranking = result.reports.map((report) => `${report.id} (${report.evaluation.accuracy?.toFixed(3) ?? 'n/a'})`).join(', ');
      return `templates of ${result.task} on ${result.comparedRows} rows, best first: ${ranking}`;
    }
    case 'generate-training-data': {
      const { result } = step;
      if (result.kind !== 'written') return `training data with mix ${result.mix}: ${result.kind}`;
      return result.files.map((file) => `${file.split}: ${file.rows} rows, explanation rate ${file.explanationRate.toFixed(3)} -> ${file.file}`).join('\n');
    }
    case 'train-student': {
      const { result } = step;
      if (result.kind === 'finished-already') return `${step.name}: finished already (${result.directory})`;
      const { outcome } = result;
      return `${step.name}: ${outcome.stopReason} after ${outcome.steps} updates in ${formatDuration(outcome.durationSeconds)}, test accuracy ${outcome.test?.accuracy.toFixed(4) ?? 'n/a'}`;
    }
    case 'compare':
      return `teacher vs student on ${step.result.comparison.rows.length} rows: teacher ${step.result.comparison.teacher.accuracy ?? 'n/a'}, student ${step.result.comparison.student.accuracy ?? 'n/a'}`;
  }
}
