import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ZsdError } from '../../../core/errors';
import { resolveDataRoot } from '../../../core/paths';
import { lossCoefficients } from '../../loss-weighting';
import { mapNumbers, mapStudentExample, numberMappingOf } from '../../number-mapping';
import { parseT5Tokenizer } from '../../tokenizer';
import { makeBatches } from '../../batches';
import { loadStudentSplit, type StudentExample } from '../../student-examples';
import { buildReferencePlan, writeReferencePlan, type ReferencePlan, type ReferencePlanOptions } from './export-plan';
import { readPlanForScoring, readReferencePredictions, scoreReference, zsdRunLine, type ReferencePredictions } from './score';

// A tiny svamp plan: 5% of train (36 rows, of which 10% carved for validation), 2 epochs, PaLM rationales, number mapping.
const options: ReferencePlanOptions = {
  task: 'svamp',
  mode: 'task_prefix',
  rationales: ['palm'],
  teacherModel: 'gpt-3.5-turbo',
  labelSource: 'gold',
  subsample: 0.05,
  numberMapping: true,
  model: 'zsd-scratch',
  vocabulary: 'task',
  alpha: 0.5,
  lr: 3e-3,
  schedule: 'linear',
  warmupSteps: 2,
  batchSize: 4,
  gradAccum: 1,
  maxInputLength: 96,
  maxTargetLength: 48,
  epochs: 2,
  evalSteps: 5,
  evalMaxNewTokens: 24,
  evalNumBeams: 1,
  seed: 3,
};

const built = buildReferencePlan(options);
const plan: ReferencePlan = built.plan;
const tokenizer = parseT5Tokenizer(JSON.parse(built.tokenizerJson), 'plan tokenizer');

/** The examples trainStudent would train on, loaded again here (not taken from the plan). */
function trainExamples(): StudentExample[] {
  const dataRoot = resolveDataRoot();
  const split = loadStudentSplit({
    dataRoot,
    workspaceRoot: dataRoot,
    task: 'svamp',
    split: 'train',
    labelSource: 'gold',
    rationaleSources: [{ name: 'palm', weight: 1, source: { kind: 'palm' } }],
    subsample: 0.05,
    seed: 3,
    carveValidation: { fraction: 0.1, seed: 0 },
  });
  return split.examples.map(mapStudentExample);
}

/** A batch of the plan, padded as makeBatches pads (train.py does the same). */
function padded(rows: number[], task: 'predict' | 'explain', source?: string) {
  const encodings = rows.map((position) => (task === 'predict' ? plan.train[position].predict : plan.train[position].explain[source as string]));
  const inputLength = Math.max(...encodings.map((encoding) => encoding.inputIds.length));
  const labelLength = Math.max(...encodings.map((encoding) => encoding.labels.length));
  return {
    inputIds: encodings.map((encoding) => [...encoding.inputIds, ...new Array<number>(inputLength - encoding.inputIds.length).fill(0)]),
    attentionMask: encodings.map((encoding) => [...encoding.inputIds.map(() => 1), ...new Array<number>(inputLength - encoding.inputIds.length).fill(0)]),
    labels: encodings.map((encoding) => [...encoding.labels, ...new Array<number>(labelLength - encoding.labels.length).fill(-100)]),
  };
}

describe('the PyTorch reference plan', () => {
  it('describes the run zsd train would make: the arm, the student, the schedule', () => {
    expect(plan.arm).toBe('task_prefix-palm-number-mapping');
    expect(plan.data.trainRows).toBe(trainExamples().length);
    expect(plan.model).toMatchObject({ d_model: 128, num_layers: 2, num_decoder_layers: 2, vocab_size: plan.vocabulary.size, dropout_rate: 0.1 });
    expect(plan.vocabulary.size).toBeLessThan(plan.vocabulary.fullSize);
    expect(plan.trainer).toMatchObject({ learningRate: 3e-3, alpha: 0.5, numberMapping: true, optimizer: { kind: 'adamw', weightDecay: 0 }, maxGradNorm: 1 });
    expect(plan.epochs).toHaveLength(2);
    expect(plan.totalSteps).toBe(2 * plan.updatesPerEpoch);
  });

  it('walks, epoch by epoch, exactly the batches of makeBatches for the seed', () => {
    const examples = trainExamples();
    const position = new Map(examples.map((example, at) => [example.index, at]));
    plan.epochs.forEach((steps, epoch) => {
      const expected = makeBatches(examples, tokenizer, { batchSize: 4, maxInputLength: 96, maxTargetLength: 48, seed: 3, epoch, mode: 'task_prefix' });
      expect(steps).toHaveLength(expected.length);
      steps.forEach((step, index) => {
        const coefficients = lossCoefficients(expected[index], 0.5);
        expect(step.map((batch) => [batch.task, batch.source, batch.coefficient])).toEqual(
          expected[index].map((batch, at) => [batch.task, batch.source, coefficients[at]]),
        );
        step.forEach((batch, at) => {
          const reference = expected[index][at];
          expect(batch.rows).toEqual(reference.rows.map((row) => position.get(row)));
          expect(padded(batch.rows, batch.task, batch.source)).toEqual({
            inputIds: reference.inputIds,
            attentionMask: reference.attentionMask,
            labels: reference.labels,
          });
        });
      });
    });
    // the training text really is mapped: no digit of a problem's numbers reaches the student
    expect(tokenizer.decode(plan.train[0].predict.inputIds, { skipSpecialTokens: true })).toMatch(/\bn0\b/);
  });

  it('encodes validation and test rows as evaluateStudent reads them: the predict prefix, the mapped problem', () => {
    const row = plan.test[0];
    expect(row.inputIds).toEqual(tokenizer.encode(`predict: ${mapNumbers(row.input, numberMappingOf(row.input))}`));
    expect(plan.validation.length).toBeGreaterThan(0);
    expect(plan.test).toHaveLength(200);
  });
});

describe('scoring the reference answers', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-pytorch-reference-'));
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));
  const planFile = writeReferencePlan(directory, built);
  /** The ids of each row's gold equation as the student writes it (mapped, ending in </s>). */
  const goldIds = (rows: ReferencePlan['test']) => rows.map((row) => tokenizer.encode(mapNumbers(row.goldLabel, numberMappingOf(row.input))));
  const wrong = (rows: ReferencePlan['test']) => rows.map(() => tokenizer.encode('( n0 +'));
  const halfRight = goldIds(plan.test).map((ids, index) => (index % 2 === 0 ? ids : wrong(plan.test)[index]));

  function predictionsFile(evaluations: ReferencePredictions['evaluations']): string {
    const file = path.join(directory, `predictions-${plan.seed}.json`);
    const predictions = {
      formatVersion: 1,
      kind: 'zsd-pytorch-reference-predictions',
      arm: plan.arm,
      seed: plan.seed,
      totalSteps: 10,
      timings: { trainSeconds: 4, validationSeconds: 1.5, testSeconds: 2 },
      evaluations,
    };
    fs.writeFileSync(file, JSON.stringify(predictions));
    return file;
  }

  it('scores the gold equations as right, with the numbers put back, and selects by validation accuracy (ties: earlier)', () => {
    const file = predictionsFile([
      { step: 5, validation: wrong(plan.validation), test: goldIds(plan.test) },
      { step: 10, validation: goldIds(plan.validation), test: halfRight },
      { step: 15, validation: goldIds(plan.validation), test: wrong(plan.test) },
    ]);
    const score = scoreReference(readPlanForScoring(planFile), readReferencePredictions(file), tokenizer);
    expect(score.evaluations.map((entry) => [entry.step, entry.validationAccuracy, entry.testAccuracy])).toEqual([
      [5, 0, 1],
      [10, 1, 0.5],
      [15, 1, 0],
    ]);
    expect(score.line).toEqual({
      framework: 'pytorch',
      arm: 'task_prefix-palm-number-mapping',
      seed: 3,
      validationAccuracy: 1,
      testAccuracy: 0.5,
      step: 10,
      seconds: 5.5,
      task: 'svamp',
      steps: 10,
    });
  });

  it("refuses answers that do not match the plan's rows, naming the key", () => {
    const file = predictionsFile([{ step: 5, validation: goldIds(plan.validation).slice(1), test: goldIds(plan.test) }]);
    expect(() => scoreReference(readPlanForScoring(planFile), readReferencePredictions(file), tokenizer)).toThrow(
      /evaluations\.0\.validation: \d+ answers for \d+ rows/,
    );
    fs.writeFileSync(file, JSON.stringify({ formatVersion: 1, kind: 'zsd-pytorch-reference-predictions', arm: plan.arm, seed: 'three' }));
    expect(() => readReferencePredictions(file)).toThrow(ZsdError);
    expect(() => readReferencePredictions(file)).toThrow(/key "seed"/);
  });

  it('reads a finished zsd run into the same line', () => {
    const run = path.join(directory, 'zsd-run');
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, 'test.json'),
      JSON.stringify({
        step: 180,
        selectedBy: 'validation-accuracy',
        accuracy: 0.235,
        examples: 200,
        evalAccuracy: 0.3,
        trainSteps: 1350,
        trainDurationSeconds: 470.1234,
        stopReason: 'completed',
      }),
    );
    expect(zsdRunLine(run, 'standard', 1, 'svamp')).toEqual({
      framework: 'zsd',
      arm: 'standard',
      seed: 1,
      validationAccuracy: 0.3,
      testAccuracy: 0.235,
      step: 180,
      seconds: 470.123,
      task: 'svamp',
      steps: 1350,
    });
  });
});
