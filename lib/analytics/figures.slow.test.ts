import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveWorkspace } from '../core/paths';
import { RunResultsWriter } from '../student/train-results';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { buildFigures } from './figures';
import type { StudentLineData } from './student-figures';

describe('buildFigures', () => {
  const root = temporaryDirectory();
  const workspace = resolveWorkspace(DATA_ROOT, root);
  let figures: Awaited<ReturnType<typeof buildFigures>>;

  beforeAll(async () => {
    figures = await buildFigures({ dataRoot: DATA_ROOT, workspace });
  }, 120_000);

  test('every figure has a unique kebab-case name, a title, plotly traces and JSON-safe data', () => {
    const names = figures.map((figure) => figure.name);
    expect(new Set(names).size).toBe(names.length);
    for (const figure of figures) {
      expect(figure.name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(figure.title.length).toBeGreaterThan(0);
      expect(Array.isArray(figure.figure.data)).toBe(true);
      expect(() => JSON.stringify(figure)).not.toThrow();
      expect(JSON.stringify(figure.data)).not.toMatch(/NaN|Infinity/);
    }
    expect(names).toEqual([
      'prompt-fre-histogram',
      'prompt-words-histogram',
      'prompt-explanation-rate-histogram',
      'prompt-explanation-sd-histogram',
      'prompt-accuracy-vs-fre',
      'prompt-accuracy-vs-words',
      'prompt-accuracy-vs-explanation-rate',
      'prompt-accuracy-vs-explanation-sd',
      'annotation-cost-anli1',
      'tokens-per-query-anli1',
      'opro-best-so-far',
      'students-subsampling-anli1-finetuning',
      'students-subsampling-anli1-distillation',
      'students-subsampling-cqa-finetuning',
      'students-subsampling-cqa-distillation',
      'students-model-size-anli1',
      'students-explanation-length-anli1',
      'students-explanation-rate-anli1',
      'students-explanation-rate-cqa',
    ]);
  });

  test('the model-size figure has the teachers measured on anli1 valid (gpt-3.5 template 100: 0.599)', () => {
    const data = figures.find((figure) => figure.name === 'students-model-size-anli1')!.data as StudentLineData;
    expect(data.teachers!.find((teacher) => teacher.name.startsWith('gpt-3.5'))!.accuracy.toFixed(3)).toBe('0.599');
    expect(data.teachers!.find((teacher) => teacher.name.startsWith('PaLM'))!.accuracy).toBeGreaterThan(0.5);
  });

  test('with finished runs in <workspace>/results, the results figures are added; with parity runs, the parity figure', async () => {
    const parityRecord = path.join(root, 'results', 'experiments', 'svamp-parity');
    fs.mkdirSync(parityRecord, { recursive: true });
    const parityRun = { arm: 'standard-number-mapping', seed: 0, validationAccuracy: 0.2, testAccuracy: 0.17, step: 90, seconds: 1 };
    fs.writeFileSync(
      path.join(parityRecord, 'runs.jsonl'),
      `${JSON.stringify({ framework: 'zsd', ...parityRun })}\n${JSON.stringify({ framework: 'pytorch', ...parityRun })}\n`,
    );
    RunResultsWriter.open(path.join(root, 'results'), {
      key: {
        task: 'svamp',
        model: 't5-efficient-tiny',
        mode: 'standard',
        llm: 'None',
        subsample: 1,
        mix: '0',
        labelType: 'gt',
        alpha: 1,
        maxInputLength: 64,
        batchSize: 8,
        optimizer: 'AdamW',
        learningRate: 1e-3,
        run: 0,
      },
      experimentGroup: null,
      category: null,
      config: {},
    }).recordTest(
      {
        step: 1,
        selectedBy: 'validation-accuracy',
        accuracy: 0.1,
        examples: 5,
        evalAccuracy: 0.2,
        trainSteps: 1,
        trainDurationSeconds: 1,
        stopReason: 'max-steps',
      },
      [],
    );
    const withResults = await buildFigures({ dataRoot: DATA_ROOT, workspace });
    expect(withResults.map((figure) => figure.name).slice(-3)).toEqual([
      'svamp-parity-test-accuracy',
      'results-students-subsampling',
      'results-students-model-size',
    ]);
  }, 120_000);
});
