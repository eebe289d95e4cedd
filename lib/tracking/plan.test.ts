import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { resolveWorkspace } from '../core/paths';
import { RunResultsWriter, TRACKING_COLUMNS } from '../student/train-results';
import { DATA_ROOT, temporaryDirectory, thrownBy, writeFile } from '../test-support/fixtures';
import { planRuns, shellCommand, trainArguments } from './plan';
import { readTrackingFile, studyTrackingFile } from './tracking-records';
import { finishRun, studyKey } from '../test-support/runs';

describe('zsd track plan', () => {
  const plan = (root: string, group: string, extra: Partial<Parameters<typeof planRuns>[0]> = {}) =>
    planRuns({ workspace: resolveWorkspace(DATA_ROOT, root), dataRoot: DATA_ROOT, group, ...extra });

  test('the study rows of a group become zsd train commands; finished runs drop out, unfinished ones resume', () => {
    const root = temporaryDirectory();
    const before = plan(root, 'subsampling anli1');
    expect(before.group).toBe('Subsampling ANLI1');
    expect(before.file).toBe(studyTrackingFile(DATA_ROOT));
    expect(before.rows).toBe(16);
    expect(before.pending).toHaveLength(16);
    expect(shellCommand(before.pending[0].args)).toBe(
      'zsd train --task anli1 --mode standard --mix 0 --label-source gold --subsample 0.125 --max-input-length 1024 --batch-size 64 --optimizer adamw --lr 5e-05 --seed 0 --run 0 --init-from models/t5-v1_1-base --max-steps 10000 --eval-steps 250',
    );
    const gpt35 = before.pending.find((run) => run.record.mode === 'task_prefix' && run.record.llm === 'palm')!;
    expect(gpt35.args.join(' ')).toContain('--mode task_prefix --rationales palm --mix 0 --label-source gold');
    expect(gpt35.args.join(' ')).toContain('--alpha 0.5');

    finishRun(path.join(root, 'results'), studyKey());
    RunResultsWriter.open(path.join(root, 'results'), { key: studyKey({ subsample: 0.25 }), experimentGroup: null, category: null, config: {} });
    const after = plan(root, 'Subsampling ANLI1');
    expect(after.done).toBe(1);
    expect(after.pending).toHaveLength(15);
    const resumed = after.pending.find((run) => run.status === 'unfinished')!;
    expect(resumed.record.subsample).toBe(0.25);
    expect(resumed.args.at(-1)).toBe('--resume');
  });

  test('filters narrow the rows; hand-entered rows (run 100) are skipped unless asked for, duplicates once', () => {
    const root = temporaryDirectory();
    const filtered = plan(root, 'Subsampling ANLI1', { filters: { mode: 'task_prefix', subsample: '1' } });
    expect(filtered.pending.map((run) => [run.record.llm, run.record.subsample])).toEqual([
      ['palm', 1],
      ['palm', 1],
    ]);
    const hsieh = plan(root, 'HSIEH ET AL Subsampling ANLI1');
    expect(hsieh).toMatchObject({ rows: 16, handEnteredSkipped: 16, pending: [] });
    const included = plan(root, 'HSIEH ET AL Subsampling ANLI1', { includeHandEntered: true });
    expect(included.pending.length + included.duplicates).toBe(16);
    expect(included.duplicates).toBeGreaterThan(0);
  });

  test('a workspace experiment-plan.csv is the default plan; models that are zsd presets use --model', () => {
    const root = temporaryDirectory();
    writeFile(
      path.join(root, 'experiment-plan.csv'),
      `${TRACKING_COLUMNS.join(',')}\nmine,step-by-step Finetuning,svamp,t5-efficient-tiny,task_prefix,palm+gpt35,1.0,4,gt,0.5,256,16,Adafactor,0.001,3,,,,\n`,
    );
    const result = plan(root, 'mine', { extraFlags: ['--epochs', '2'] });
    expect(result.file).toBe(path.join(root, 'experiment-plan.csv'));
    expect(shellCommand(result.pending[0].args)).toBe(
      'zsd train --task svamp --mode task_prefix --rationales palm,gpt35 --mix 4 --label-source gold --subsample 1.0 --alpha 0.5 --max-input-length 256 --batch-size 16 --optimizer adafactor --lr 0.001 --seed 3 --run 3 --model t5-efficient-tiny --epochs 2',
    );
  });

  test('an unknown group or a filter that matches nothing is refused, naming what there is', () => {
    const root = temporaryDirectory();
    const unknown = thrownBy(() => plan(root, 'Subsampling ANLI2'));
    expect(isZsdError(unknown) && unknown.kind).toBe('usage');
    expect(String(unknown)).toMatch(/unknown experiment group "Subsampling ANLI2"; the plan's groups are: .*"Subsampling ANLI1"/);
    const badModel = thrownBy(() => plan(root, 'Subsampling ANLI1', { filters: { model: 't5-v1_1-xl' } }));
    expect(String(badModel)).toMatch(/--model t5-v1_1-xl matches no planned row of group "Subsampling ANLI1"; its model values are: t5-v1_1-base/);
    const badNumber = thrownBy(() => plan(root, 'Subsampling ANLI1', { filters: { subsample: 'half' } }));
    expect(String(badNumber)).toMatch(/--subsample expects a number, got "half"/);
    const badMix = thrownBy(() => plan(root, 'Subsampling ANLI1', { filters: { mix: '6' } }));
    expect(String(badMix)).toMatch(/--mix 6 matches no planned row.*prompt_mix values are: 0/);
  });

  test('a row zsd cannot train is refused with its line', () => {
    const [record] = readTrackingFile(studyTrackingFile(DATA_ROOT));
    const error = thrownBy(() => trainArguments({ ...record, label_type: 'silver' }));
    expect(isZsdError(error) && error.location).toMatchObject({ line: 2, key: 'label_type' });
  });
});
