import { RunResultsWriter, type RunKey } from '../student/train-results';

/** Run keys and finished runs for tests of the stages that read results/ (tracking, analytics). */

/** The key of a study run (ANLI1, T5-v1_1-base, standard, 12.5% of train), with overrides. */
export const studyKey = (overrides: Partial<RunKey> = {}): RunKey => ({
  task: 'anli1',
  model: 't5-v1_1-base',
  mode: 'standard',
  llm: 'None',
  subsample: 0.125,
  mix: '0',
  labelType: 'gt',
  alpha: 1, // zsd stores alpha 1 for standard mode; the study's row says 0.5
  maxInputLength: 1024,
  batchSize: 64,
  optimizer: 'AdamW',
  learningRate: 5e-5,
  run: 0,
  ...overrides,
});

/** A finished run under resultsRoot: one evaluation and a test result, as `zsd train` writes them. */
export function finishRun(resultsRoot: string, key: RunKey, evalAccuracy = 0.4): void {
  const writer = RunResultsWriter.open(resultsRoot, { key, experimentGroup: null, category: null, config: {} });
  writer.recordEvaluation({ step: 250, epoch: 1, accuracy: evalAccuracy, examples: 100, bestAccuracy: evalAccuracy, bestStep: 250, elapsedSeconds: 10 });
  writer.recordTest(
    {
      step: 250,
      selectedBy: 'validation-accuracy',
      accuracy: evalAccuracy - 0.01,
      examples: 1000,
      evalAccuracy,
      trainSteps: 500,
      trainDurationSeconds: 42,
      stopReason: 'max-steps',
    },
    [],
  );
}
