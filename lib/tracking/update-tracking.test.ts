import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunResultsWriter, TRACKING_COLUMNS } from '../student/train-results';
import { listFiles, temporaryDirectory } from '../test-support/fixtures';
import { parseCsv } from './csv';
import { readTrackingFile } from './tracking-records';
import { trackingFile, updateTracking, ZSD_TRACKING_COLUMNS } from './update-tracking';
import { finishRun, studyKey } from '../test-support/runs';

describe('zsd track update', () => {
  test('collects results/ into results/experiment-tracking.csv: study columns then zsd columns, idempotent', () => {
    const root = temporaryDirectory();
    const resultsRoot = path.join(root, 'results');
    finishRun(resultsRoot, studyKey(), 0.347);
    RunResultsWriter.open(resultsRoot, { key: studyKey({ run: 1 }), experimentGroup: 'Subsampling ANLI1', category: 'standard Finetuning', config: {} });
    const first = updateTracking(root);
    expect(first).toEqual({ file: trackingFile(root), runs: 2, finished: 1, changed: true });
    const text = fs.readFileSync(first.file, 'utf8');
    const table = parseCsv(text, first.file);
    expect(table.header).toEqual([...TRACKING_COLUMNS, ...ZSD_TRACKING_COLUMNS]);
    expect(table.rows[0].values).toMatchObject({
      dataset: 'anli1',
      subsample: '0.125',
      alpha: '1.0',
      lr: '5e-05',
      run: '0',
      eval_acc: '0.347',
      train_steps: '500',
      status: 'finished',
      selected_step: '250',
      evaluations: '1',
      run_directory: 'anli1/t5-v1_1-base/standard/None/0.125/0/gt/1.0/1024/64/AdamW/5e-05/0',
    });
    expect(table.rows[1].values).toMatchObject({ experiment_group: 'Subsampling ANLI1', status: 'unfinished', eval_acc: '', test_acc: '' });
    // the study's reader takes zsd's file back (extra columns are fine)
    expect(readTrackingFile(first.file)).toHaveLength(2);

    const again = updateTracking(root);
    expect(again.changed).toBe(false);
    expect(fs.readFileSync(first.file, 'utf8')).toBe(text);
    expect(listFiles(resultsRoot).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  });

  test('an empty workspace gives a header-only file', () => {
    const root = temporaryDirectory();
    expect(updateTracking(root)).toMatchObject({ runs: 0, finished: 0 });
    expect(fs.readFileSync(trackingFile(root), 'utf8')).toBe(`${[...TRACKING_COLUMNS, ...ZSD_TRACKING_COLUMNS].join(',')}\n`);
  });
});
