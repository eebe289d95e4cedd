import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunResultsWriter } from '../student/train-results';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { main } from './index';

/** Runs `zsd ...` in this process, capturing stdout, stderr and the exit code. */
async function zsd(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const before = process.exitCode;
  try {
    process.exitCode = undefined;
    await main(['node', 'zsd', ...args]);
    return { status: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.exitCode = before;
    out.mockRestore();
    err.mockRestore();
  }
}

describe('zsd track', () => {
  test('update writes results/experiment-tracking.csv and says how many runs', async () => {
    const root = temporaryDirectory();
    const writer = RunResultsWriter.open(path.join(root, 'results'), {
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
    });
    writer.recordTest(
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
    const first = await zsd(['track', 'update', '--data', DATA_ROOT, '--workspace', root]);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^1 run \(1 finished\) written to .*results\/experiment-tracking\.csv\n$/);
    const again = await zsd(['track', 'update', '--data', DATA_ROOT, '--workspace', root]);
    expect(again.stdout).toMatch(/1 run \(1 finished\) already in/);
    expect(fs.readFileSync(path.join(root, 'results', 'experiment-tracking.csv'), 'utf8').split('\n')).toHaveLength(3);
  });

  test('update refuses a workspace inside the data root', async () => {
    const result = await zsd(['track', 'update', '--data', DATA_ROOT, '--workspace', path.join(DATA_ROOT, 'paper')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/read-only data root/);
  });

  test('plan prints one zsd train line per run to do, and a summary on stderr', async () => {
    const root = temporaryDirectory();
    const result = await zsd([
      'track',
      'plan',
      '--group',
      'Subsampling CQA GPT35',
      '--mode',
      'task_prefix',
      '--label-type',
      'gt',
      '--data',
      DATA_ROOT,
      '--workspace',
      root,
      '--models',
      '/opt/t5',
    ]);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(
      'zsd train --task cqa --mode task_prefix --rationales gpt35 --mix 7 --label-source gold --subsample 0.125 --alpha 0.5 --max-input-length 1024 --batch-size 32 --optimizer adamw --lr 5e-05 --seed 0 --run 0 --init-from /opt/t5/t5-v1_1-base --max-steps 10000 --eval-steps 250',
    );
    expect(result.stderr).toMatch(/group "Subsampling CQA GPT35" of .*experiment_tracking\.csv: 4 planned rows; 4 runs to do \(0 to resume\), 0 done/);
  });

  test('plan: an unknown group, a bad filter or a missing --group exit 2 with a clear message', async () => {
    const root = temporaryDirectory();
    const unknown = await zsd(['track', 'plan', '--group', 'nope', '--data', DATA_ROOT, '--workspace', root]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/zsd: error: .*experiment_tracking\.csv, key experiment_group: unknown experiment group "nope"/);
    const filter = await zsd(['track', 'plan', '--group', 'Subsampling CQA', '--dataset', 'anli1', '--data', DATA_ROOT, '--workspace', root]);
    expect(filter.status).toBe(2);
    expect(filter.stderr).toMatch(/--dataset anli1 matches no planned row of group "Subsampling CQA"; its dataset values are: cqa/);
    const missing = await zsd(['track', 'plan', '--data', DATA_ROOT, '--workspace', root]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/required option '--group <name>' not specified/);
  });
});
