import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporaryDirectory } from '../test-support/fixtures';
import { pairedDifference, parityFigures, parityRows, readParityRuns, summarizeParity, type ParityRun } from './parity-figure';

function run(framework: 'zsd' | 'pytorch', arm: string, seed: number, testAccuracy: number): ParityRun {
  return { framework, arm, seed, validationAccuracy: 0.2, testAccuracy, step: 90 * (seed + 1), seconds: 100 };
}

// zsd 0.170/0.180/0.190 (mean 0.180, SD 0.010) vs PyTorch 0.150/0.200/0.250 (mean 0.200, SD 0.050): within.
// On the PaLM arm zsd's mean 0.100 is below PyTorch's lowest seed 0.200: not within. gpt35 has no PyTorch run yet.
const RUNS: ParityRun[] = [
  run('pytorch', 'task_prefix-palm-number-mapping', 0, 0.2),
  run('zsd', 'task_prefix-palm-number-mapping', 0, 0.1),
  run('zsd', 'standard-number-mapping', 2, 0.19),
  run('zsd', 'standard-number-mapping', 0, 0.17),
  run('zsd', 'standard-number-mapping', 1, 0.18),
  run('pytorch', 'standard-number-mapping', 0, 0.15),
  run('pytorch', 'standard-number-mapping', 1, 0.2),
  run('pytorch', 'standard-number-mapping', 2, 0.25),
  run('zsd', 'task_prefix-gpt35', 0, 0.12),
];

describe('accuracy parity summary', () => {
  test('mean, sample SD and the within-spread check per arm, in run-arms.sh order', () => {
    const summaries = summarizeParity(RUNS);
    expect(summaries.map((summary) => summary.arm)).toEqual(['standard-number-mapping', 'task_prefix-palm-number-mapping', 'task_prefix-gpt35']);
    const [standard, palm, gpt35] = summaries;
    expect(standard.zsd!.mean).toBeCloseTo(0.18, 12);
    expect(standard.zsd!.sd).toBeCloseTo(0.01, 12);
    expect(standard.zsd!.seeds.map((seed) => seed.seed)).toEqual([0, 1, 2]);
    expect(standard.pytorch!.mean).toBeCloseTo(0.2, 12);
    expect(standard.pytorch!.sd).toBeCloseTo(0.05, 12);
    expect(standard.zsdWithinPytorchSpread).toBe(true);
    expect(palm.zsd!.sd).toBeNull();
    expect(palm.zsdWithinPytorchSpread).toBe(false);
    expect(gpt35.pytorch).toBeNull();
    expect(gpt35.zsdWithinPytorchSpread).toBeNull();
    expect(parityRows(summaries)[0]).toEqual({
      arm: 'standard-number-mapping',
      zsd: '0.180 ± 0.010 (0.170 / 0.180 / 0.190)',
      pytorch: '0.200 ± 0.050 (0.150 / 0.200 / 0.250)',
      'zsd within PyTorch spread': 'yes',
    });
  });

  test('the paired difference: zsd minus PyTorch over the (arm, seed) pairs both ran, computed by hand', () => {
    // pairs: palm seed 0 (0.10 - 0.20), standard seeds 0, 1, 2 (0.17 - 0.15, 0.18 - 0.20, 0.19 - 0.25); gpt35 has no pair
    // differences -0.10, 0.02, -0.02, -0.06: mean -0.04, squared deviations 0.0036 + 0.0036 + 0.0004 + 0.0004 = 0.008
    const difference = pairedDifference(RUNS)!;
    expect(difference.pairs).toBe(4);
    expect(difference.test.mean).toBeCloseTo(-0.04, 12);
    expect(difference.test.sd).toBeCloseTo(Math.sqrt(0.008 / 3), 12);
    expect(difference.test.standardError).toBeCloseTo(Math.sqrt(0.008 / 3) / 2, 12);
    expect(difference.validation).toEqual({ mean: 0, sd: 0, standardError: 0 });
    expect(pairedDifference(RUNS.filter((one) => one.framework === 'zsd'))).toBeNull();
  });

  test('the figure draws both frameworks and the baselines; no runs, no figure', () => {
    const baseline = { name: 'best single rule', rule: '( max - min )', referenceAccuracy: 0.2, accuracy: 0.21, correct: 42, rows: 200 };
    const [figure] = parityFigures(RUNS, { source: 'test', baselines: [baseline] });
    const bars = figure.figure.data.filter((trace) => trace.type === 'bar');
    expect(bars.map((trace) => trace.y)).toEqual([
      [0.18, 0.1, 0.12].map((value) => expect.closeTo(value, 12)),
      [expect.closeTo(0.2, 12), expect.closeTo(0.2, 12)],
    ]);
    expect(figure.figure.data.at(-1)!.y).toEqual([0.21, 0.21, 0.21]);
    expect(parityFigures([], { source: 'test' })).toEqual([]);
  });

  test('runs.jsonl: a missing file is no runs; a bad line is refused naming file, line and key', () => {
    const directory = temporaryDirectory();
    const file = path.join(directory, 'runs.jsonl');
    expect(readParityRuns(file)).toEqual([]);
    fs.writeFileSync(file, `${JSON.stringify(RUNS[0])}\n${JSON.stringify({ ...RUNS[1], testAccuracy: 'high' })}\n`);
    let refusal: unknown;
    try {
      readParityRuns(file);
    } catch (error) {
      refusal = error;
    }
    expect(String(refusal)).toMatch(/testAccuracy/);
    expect(String(refusal)).toContain(file);
    expect(JSON.stringify(refusal)).toContain('"line":2');
    fs.writeFileSync(file, `${JSON.stringify(RUNS[0])}\n{"framework":"zs`);
    expect(() => readParityRuns(file)).toThrow(/cut off/);
  });
});
