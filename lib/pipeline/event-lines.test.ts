import type { TrainProgress } from '../student/trainer';
import { eventLine, throttledEventLines } from './event-lines';
import type { PipelineEvent } from './events';

function trainProgress(step: number, totalSteps: number): PipelineEvent {
  const progress: TrainProgress = {
    step,
    totalSteps,
    epoch: step / 10,
    loss: 1 / step,
    labelLoss: 1 / step,
    rationaleLoss: null,
    learningRate: 0.01,
    tokensPerSecond: 1000,
    elapsedSeconds: step,
    etaSeconds: totalSteps - step,
  };
  return { kind: 'train-progress', label: 'tiny standard', progress };
}

test('throttledEventLines shows every message, progress at most once per interval per run, and always the last update', () => {
  let now = 0;
  const lines: string[] = [];
  const show = throttledEventLines((line) => lines.push(line), { everySeconds: 5, now: () => now });
  show({ kind: 'info', message: 'backend: wasm' });
  for (let step = 1; step <= 10; step++) {
    now = step * 1000;
    show(trainProgress(step, 10));
  }
  show({ kind: 'train-evaluation', label: 'tiny standard', step: 10, accuracy: 0.25 });
  // steps 1 (first), 6 (5 s later) and 10 (the last), never 2-5 or 7-9
  expect(lines.map((line) => /step (\d+)\/10/.exec(line)?.[1] ?? line)).toEqual(['backend: wasm', '1', '6', '10', 'step 10: validation accuracy 0.2500']);
  expect(lines[3]).toBe('tiny standard: step 10/10 · epoch 1.00 · loss 0.1000 (label 0.1000) · 1000 tokens/s · ETA 0s');
});

test('a second run is throttled on its own', () => {
  const lines: string[] = [];
  const show = throttledEventLines((line) => lines.push(line), { now: () => 0 });
  show(trainProgress(1, 5));
  show({ ...(trainProgress(1, 5) as Extract<PipelineEvent, { kind: 'train-progress' }>), label: 'tiny task_prefix' });
  show(trainProgress(2, 5));
  expect(lines).toHaveLength(2);
  expect(eventLine({ kind: 'phase', title: '1/5 compare', elapsedSeconds: 75 })).toBe('== 1/5 compare (1m15s)');
});
