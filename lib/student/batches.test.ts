import { ZsdError } from '../core/errors';
import { DATA_ROOT, temporaryDirectory, thrownBy } from '../test-support/fixtures';
import { IGNORED_LABEL_ID, makeBatches, type EncodedBatch } from './batches';
import { loadStudentExamples, type StudentExample } from './student-examples';
import { loadT5Tokenizer, t5TokenizerFile, type T5Tokenizer } from './tokenizer';

const workspaceRoot = temporaryDirectory('zsd-batches-');
const base = { dataRoot: DATA_ROOT, workspaceRoot, labelSource: 'gold' as const, rationaleSources: [] };

let tokenizer: T5Tokenizer;
beforeAll(() => {
  tokenizer = loadT5Tokenizer(t5TokenizerFile(DATA_ROOT));
});

function errorOf(action: () => unknown): ZsdError {
  const error = thrownBy(action);
  expect(error).toBeInstanceOf(ZsdError);
  return error as ZsdError;
}

describe('batches', () => {
  const options = { batchSize: 16, maxInputLength: 128, maxTargetLength: 64, seed: 3, epoch: 0 };
  let examples: StudentExample[];
  beforeAll(() => {
    examples = loadStudentExamples({ ...base, task: 'svamp', split: 'train', rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }] });
  });

  const predictRows = (steps: EncodedBatch[][]) => steps.flatMap((step) => step[0].rows);

  test('every example exactly once per epoch; each step: a predict and an explain batch over the same rows', () => {
    const steps = makeBatches(examples, tokenizer, options);
    expect(steps).toHaveLength(Math.ceil(800 / 16));
    expect(predictRows(steps).sort((a, b) => a - b)).toEqual(Array.from({ length: 800 }, (_, index) => index));
    for (const [predict, explain, ...rest] of steps) {
      expect(rest).toEqual([]);
      expect(predict.task).toBe('predict');
      expect(explain).toMatchObject({ task: 'explain', source: 'palm', weight: 1 });
      expect(explain.rows).toEqual(predict.rows);
    }
  });

  test('padding: inputs with the pad id and a 0 mask, labels with -100 after </s>', () => {
    const steps = makeBatches(examples, tokenizer, options);
    let paddedLabels = 0;
    for (const batch of steps.flat()) {
      const width = batch.inputIds[0].length;
      batch.inputIds.forEach((ids, row) => {
        expect(ids).toHaveLength(width);
        const length = batch.attentionMask[row].filter((bit) => bit === 1).length;
        expect(batch.attentionMask[row]).toEqual([...new Array(length).fill(1), ...new Array(width - length).fill(0)]);
        expect(ids[length - 1]).toBe(tokenizer.eosId);
        expect(ids.slice(length).every((id) => id === tokenizer.padId)).toBe(true);
      });
      const labelWidth = batch.labels[0].length;
      for (const labels of batch.labels) {
        expect(labels).toHaveLength(labelWidth);
        const end = labels.indexOf(tokenizer.eosId);
        expect(end).toBeGreaterThanOrEqual(0);
        expect(labels.slice(end + 1).every((id) => id === IGNORED_LABEL_ID)).toBe(true);
        expect(labels.slice(0, end).includes(IGNORED_LABEL_ID)).toBe(false);
        paddedLabels += labels.length - end - 1;
      }
      expect(Math.max(...batch.labels.map((labels) => labels.indexOf(tokenizer.eosId)))).toBe(labelWidth - 1);
    }
    expect(paddedLabels).toBeGreaterThan(0);
  });

  test('prefixes and targets: "predict: " -> label, "explain: " -> rationale; a missing rationale is an empty target (just </s>)', () => {
    const steps = makeBatches(examples, tokenizer, options);
    const [predict, explain] = steps[0];
    const example = examples[predict.rows[0]];
    const decode = (ids: number[]) => tokenizer.decode(ids.filter((id) => id >= 0));
    expect(decode(predict.inputIds[0])).toBe(tokenizer.decode(tokenizer.encode(`predict: ${example.input}`)));
    expect(decode(explain.inputIds[0])).toBe(tokenizer.decode(tokenizer.encode(`explain: ${example.input}`)));
    expect(predict.labels[0].filter((id) => id !== IGNORED_LABEL_ID)).toEqual(tokenizer.encode(example.label));
    const missing = examples.find((candidate) => candidate.rationales[0].text === null) as StudentExample;
    const explainOfMissing = steps.map((step) => step[1]).find((batch) => batch.rows.includes(missing.index)) as EncodedBatch;
    expect(explainOfMissing.labels[explainOfMissing.rows.indexOf(missing.index)].filter((id) => id !== IGNORED_LABEL_ID)).toEqual([tokenizer.eosId]);
  });

  test('dropMissingRationales: those rows leave the explain batch, not the predict batch', () => {
    const steps = makeBatches(examples, tokenizer, { ...options, dropMissingRationales: true });
    const missing = new Set(examples.filter((example) => example.rationales[0].text === null).map((example) => example.index));
    expect(missing.size).toBe(11);
    expect(predictRows(steps)).toHaveLength(800);
    const explained = steps.flatMap((step) => step.slice(1).flatMap((batch) => batch.rows));
    expect(explained).toHaveLength(800 - 11);
    expect(explained.some((row) => missing.has(row))).toBe(false);
  });

  test('deterministic for (seed, epoch); each epoch another order', () => {
    const rowsOf = (seed: number, epoch: number) => predictRows(makeBatches(examples, tokenizer, { ...options, seed, epoch }));
    expect(rowsOf(3, 0)).toEqual(rowsOf(3, 0));
    expect(rowsOf(3, 1)).not.toEqual(rowsOf(3, 0));
    expect(rowsOf(4, 0)).not.toEqual(rowsOf(3, 0));
  });

  test('bucketing by length pads less than batches in random order', () => {
    const padding = (steps: EncodedBatch[][]) => steps.reduce((sum, [predict]) => sum + predict.attentionMask.flat().filter((bit) => bit === 0).length, 0);
    const cqa = loadStudentExamples({ ...base, task: 'cqa', split: 'test' });
    const bucketed = padding(makeBatches(cqa, tokenizer, { ...options, bucketChunkBatches: 10 }));
    const random = padding(makeBatches(cqa, tokenizer, { ...options, bucketByLength: false }));
    expect(bucketed).toBeLessThan(random / 3);
  });

  test('truncation keeps maxInputLength tokens ending in </s>', () => {
    const steps = makeBatches(examples, tokenizer, { ...options, maxInputLength: 8, maxTargetLength: 4 });
    for (const batch of steps.flat()) {
      expect(batch.inputIds[0].length).toBeLessThanOrEqual(8);
      expect(batch.labels[0].length).toBeLessThanOrEqual(4);
    }
  });

  test('standard mode: the unprefixed input -> label, no explain batches', () => {
    const steps = makeBatches(examples, tokenizer, { ...options, mode: 'standard' });
    expect(steps.every((step) => step.length === 1)).toBe(true);
    const [predict] = steps[0];
    expect(predict.inputIds[0].filter((id) => id !== tokenizer.padId)).toEqual(tokenizer.encode(examples[predict.rows[0]].input).slice(0, 128));
  });

  test('several sources: one explain batch each, each with its own prefix and weight', () => {
    const obqa = loadStudentExamples({
      ...base,
      task: 'obqa',
      split: 'valid',
      rationaleSources: [{ name: 'tinyllm', source: { kind: 'multi-teacher' }, weight: 1 }],
    });
    const steps = makeBatches(obqa, tokenizer, options);
    expect(steps[0].map((batch) => [batch.task, batch.source, batch.weight])).toEqual([
      ['predict', undefined, undefined],
      ['explain', 'flan', 0.5],
      ['explain', 'llama', 0.5],
    ]);
    const example = obqa[steps[0][1].rows[0]];
    expect(tokenizer.decode(steps[0][1].inputIds[0])).toBe(tokenizer.decode(tokenizer.encode(`explain flan: ${example.input}`).slice(0, 128)));
    expect(tokenizer.decode(steps[0][2].inputIds[0])).toBe(tokenizer.decode(tokenizer.encode(`explain llama: ${example.input}`).slice(0, 128)));
  });

  test('bad batch options name their key', () => {
    expect(errorOf(() => makeBatches([], tokenizer, { batchSize: 0, maxInputLength: 8, seed: 0, epoch: 0 })).location.key).toBe('batchSize');
    expect(errorOf(() => makeBatches([], tokenizer, { batchSize: 2, maxInputLength: 8, seed: -1, epoch: 0 })).location.key).toBe('seed');
  });
});
