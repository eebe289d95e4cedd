import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { TRACKING_COLUMNS } from '../student/train-results';
import { DATA_ROOT, temporaryDirectory, thrownBy, writeFile } from '../test-support/fixtures';
import { readTrackingFile, runKeyIdentity, runKeyOfRecord, studyTrackingFile } from './tracking-records';
import { studyKey } from '../test-support/runs';

describe('tracking records', () => {
  test('the study table: 367 typed rows with the study columns', () => {
    const records = readTrackingFile(studyTrackingFile(DATA_ROOT));
    expect(records).toHaveLength(367);
    expect(records[0]).toMatchObject({
      experiment_group: 'Subsampling ANLI1',
      category: 'standard Finetuning',
      subsample: 0.125,
      prompt_mix: '0',
      lr: 5e-5,
      run: 0,
      eval_acc: 0.347,
    });
    expect(records[0].origin).toMatch(/experiment_tracking\.csv:2$/);
    expect(records.filter((record) => record.run === 100)).toHaveLength(24);
  });

  test('a missing column or a bad value names file, line and column', () => {
    const root = temporaryDirectory();
    const header = TRACKING_COLUMNS.join(',');
    const row = 'G,standard Finetuning,anli1,t5-small,standard,None,1.0,0,gt,0.5,512,8,AdamW,5e-05,0,,,,';
    const missing = writeFile(path.join(root, 'missing.csv'), `${header.replace(',lr', '')}\n`);
    expect(String(thrownBy(() => readTrackingFile(missing)))).toMatch(/missing\.csv:1: missing column lr/);
    const bad = writeFile(path.join(root, 'bad.csv'), `${header}\n${row}\n${row.replace(',1.0,', ',1.5,')}\n`);
    const error = thrownBy(() => readTrackingFile(bad));
    expect(isZsdError(error) && error.location).toEqual({ file: bad, line: 3, key: 'subsample' });
    expect(String(error)).toMatch(/subsample "1.5" is not a number > 0 and <= 1/);
  });

  test('standard-mode keys compare without alpha; other fields by their directory spelling', () => {
    const [first] = readTrackingFile(studyTrackingFile(DATA_ROOT));
    expect(runKeyIdentity(runKeyOfRecord(first))).toBe(runKeyIdentity(studyKey()));
    expect(runKeyIdentity(runKeyOfRecord(first))).not.toBe(runKeyIdentity(studyKey({ learningRate: 5e-4 })));
    expect(runKeyIdentity(studyKey({ mode: 'task_prefix', alpha: 0.5 }))).not.toBe(runKeyIdentity(studyKey({ mode: 'task_prefix', alpha: 0.4 })));
  });
});
