import { formatDuration } from '../core/durations';
import type { QueryProgress } from '../teacher/scheduler';

/**
 * A progress line on stderr for long runs: done / cached / failed, tokens, dollars, rate and ETA.
 * On a terminal the line is redrawn in place (at most 10 times a second); otherwise (CI, a log file) a line
 * is printed every `logEverySeconds` and at the end, so logs stay short.
 */

export interface ProgressLineOptions {
  stream?: NodeJS.WriteStream;
  logEverySeconds?: number;
  now?: () => number;
}

export class ProgressLine {
  private readonly stream: NodeJS.WriteStream;
  private readonly interactive: boolean;
  private readonly logEveryMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private lastDrawn = 0;
  private last?: QueryProgress;

  constructor(
    private readonly label: string,
    options: ProgressLineOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.interactive = Boolean(this.stream.isTTY);
    this.logEveryMs = (options.logEverySeconds ?? 10) * 1000;
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  update(progress: QueryProgress): void {
    this.last = progress;
    const now = this.now();
    if (now - this.lastDrawn < (this.interactive ? 100 : this.logEveryMs)) return;
    this.lastDrawn = now;
    this.draw(progress, false);
  }

  finish(): void {
    if (this.last) this.draw(this.last, true);
  }

  private draw(progress: QueryProgress, final: boolean): void {
    const line = formatProgress(this.label, progress, (this.now() - this.started) / 1000);
    if (this.interactive) this.stream.write(`\r\u001b[2K${line}${final ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}

export function formatProgress(label: string, progress: QueryProgress, elapsedSeconds: number): string {
  const done = progress.fresh + progress.cached + progress.failed + progress.skipped;
  const rate = elapsedSeconds > 0 ? progress.fresh / elapsedSeconds : 0;
  const remaining = progress.total - done;
  const eta = rate > 0 && remaining > 0 ? ` · ETA ${formatDuration(remaining / rate)}` : '';
  const percent = progress.total > 0 ? Math.floor((100 * done) / progress.total) : 100;
  return (
    `${label} ${bar(percent)} ${done}/${progress.total} · fresh ${progress.fresh} · cached ${progress.cached} · failed ${progress.failed}` +
    `${progress.retries > 0 ? ` · retries ${progress.retries}` : ''} · ${formatCount(progress.promptTokens + progress.completionTokens)} tokens` +
    ` · $${progress.costUsd.toFixed(4)} · ${rate.toFixed(1)} q/s${eta}`
  );
}

function bar(percent: number): string {
  const width = 20;
  const filled = Math.round((percent / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%`;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export { formatDuration } from '../core/durations';

/**
 * Ctrl-C for a teacher run: the first aborts the signal (queries in flight finish and are stored), a second quits
 * at once. Call `dispose` when the run is over.
 */
export function interruptibleRun(log: (line: string) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort();
    log('\ninterrupted: letting the queries in flight finish and store their answers (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onInterrupt);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onInterrupt) };
}

/** Runs `work` with Ctrl-C wired to its abort signal (see `interruptibleRun`). */
export async function withInterrupt<T>(log: (line: string) => void, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = interruptibleRun(log);
  try {
    return await work(interrupt.signal);
  } finally {
    interrupt.dispose();
  }
}
