import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { NumpyGenerator, seedSequenceState } from '../core/numpy-random';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { DATA_ROOT, temporaryDirectory, thrownBy, writeFile } from '../test-support/fixtures';
import { loadT5Tokenizer, t5TokenizerFile, type T5Tokenizer } from './tokenizer';
import {
  carveValidation,
  huggingFaceTrainTestSplit,
  loadStudentExamples,
  loadStudentSplit,
  studentInput,
  type LoadStudentExamplesOptions,
  type StudentExample,
} from './student-examples';

const numpyExpected = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'training-data-numpy.json'), 'utf8'));
const workspaceRoot = temporaryDirectory('zsd-student-examples-');
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

describe("numpy's default_rng (SeedSequence -> PCG64 -> Generator), as Hugging Face datasets draws it", () => {
  const uint64Words = (words: Uint32Array): string[] =>
    Array.from({ length: words.length / 2 }, (_, index) => ((BigInt(words[2 * index + 1]) << 32n) | BigInt(words[2 * index])).toString());

  test('SeedSequence state for an int, a list and a seed wider than 32 bits', () => {
    expect(uint64Words(seedSequenceState(0, 8))).toEqual(numpyExpected.ss0.map(String));
    expect(uint64Words(seedSequenceState([7, 3], 8))).toEqual(numpyExpected.ss_list.map(String));
    expect(uint64Words(seedSequenceState(2 ** 40 + 5, 8))).toEqual(numpyExpected.ss_big.map(String));
  });

  test('PCG64 seeding and raw 64-bit outputs', () => {
    const generator = NumpyGenerator.defaultRng(0);
    expect([generator.pcgState.state.toString(), generator.pcgState.inc.toString()]).toEqual(numpyExpected.pcg_state0);
    expect([generator.nextUint64(), generator.nextUint64(), generator.nextUint64()].map(String)).toEqual(numpyExpected.pcg_raw0.map(String));
  });

  test('Generator.permutation, including a long one and two in a row from one generator', () => {
    expect(NumpyGenerator.defaultRng(0).permutation(10)).toEqual(numpyExpected.perm0_10);
    expect(NumpyGenerator.defaultRng(42).permutation(30)).toEqual(numpyExpected.perm42_30);
    const long = NumpyGenerator.defaultRng(1).permutation(9741);
    expect(long.slice(0, 10)).toEqual(numpyExpected.perm1_9741_head);
    expect(long.slice(-5)).toEqual(numpyExpected.perm1_9741_tail);
    expect(NumpyGenerator.defaultRng([7, 3]).permutation(15)).toEqual(numpyExpected.perm_list_7_3);
    const generator = NumpyGenerator.defaultRng([5, 2]);
    expect([generator.permutation(12), generator.permutation(7)]).toEqual(numpyExpected.seq_5_2);
  });

  test("datasets' train_test_split: n_test = ceil(test_size * n), train = the rest of the permutation, in its order", () => {
    const cqa = huggingFaceTrainTestSplit(9741, 1 - 0.25, 0);
    expect(cqa.train).toHaveLength(numpyExpected.cqa_sub25_seed0.n); // 9741 - ceil(0.75 * 9741) = 2435
    expect(cqa.train.slice(0, 8)).toEqual(numpyExpected.cqa_sub25_seed0.head);
    expect(cqa.test).toHaveLength(9741 - 2435);
  });
});

describe('student inputs, exactly as distilling-step-by-step formats them', () => {
  test('cqa: question, "\\nAnswer Choices:", then "\\n(a) ..." per choice (CQADatasetLoader.prepare_input)', () => {
    const task = getTask('cqa');
    const row = loadSplit(task, 'train', [DATA_ROOT]).rows[0];
    expect(studentInput(task, row)).toBe(
      '"There are 10 apples on an apple tree.  Three fall off.  Now there are X apples."  What is this an example of?\nAnswer Choices:\n(a) park\n(b) coloring book\n(c) garden center\n(d) math problem\n(e) gravity',
    );
  });

  test('svamp: the problem as stored ("Body\\nQuestion")', () => {
    const task = getTask('svamp');
    const row = loadSplit(task, 'train', [DATA_ROOT]).rows[0];
    expect(studentInput(task, row)).toBe(
      'Luke scored 84 points after playing 2 rounds of a trivia game. If he gained the same number of points each round\nHow many points did he score per round?',
    );
  });

  test('anli1 and esnli: tokenizer.eos_token.join([premise, hypothesis]) = premise</s>hypothesis (run.py)', () => {
    const anli1 = getTask('anli1');
    expect(studentInput(anli1, loadSplit(anli1, 'valid', [DATA_ROOT]).rows[0])).toBe(
      'Linguistics is the scientific study of language, and involves an analysis of language form, language meaning, and language in context. The earliest activities in the documentation and description of language have been attributed to the 4th century BCE Indian grammarian P\u0101\u1e47ini, who wrote a formal description of the Sanskrit language in his "A\u1e63\u1e6d\u0101dhy\u0101y\u012b ".</s>Form and meaning are the only aspects of language linguistics is concerned with.',
    );
    const esnli = getTask('esnli');
    expect(studentInput(esnli, loadSplit(esnli, 'valid', [DATA_ROOT]).rows[0])).toBe(
      'Two women are embracing while holding to go packages.</s>The sisters are hugging goodbye while holding to go packages after just eating lunch.',
    );
  });

  test("a user's generic task (datasets/<name>/<name>_<split>.jsonl in the workspace): its input field", () => {
    writeFile(path.join(workspaceRoot, 'datasets', 'toy', 'toy_train.jsonl'), '{"input": "2 + 2?", "label": 4}\n{"input": "3 + 1?", "label": "4"}\n');
    const examples = loadStudentExamples({ ...base, task: 'toy', split: 'train' });
    expect(examples.map(({ input, label }) => [input, label])).toEqual([
      ['2 + 2?', '4'],
      ['3 + 1?', '4'],
    ]);
  });

  test('the literal </s> becomes the end-of-sequence id inside the input, as the HF tokenizer does', () => {
    const ids = tokenizer.encode('predict: A dog runs.</s>An animal moves.');
    expect(ids.filter((id) => id === tokenizer.eosId)).toHaveLength(2);
    expect(ids.indexOf(tokenizer.eosId)).toBeLessThan(ids.length - 1);
  });
});

describe('PaLM rationales and labels', () => {
  test('one per row, in row order; the teacher labels reproduce the published PaLM accuracy (cqa test 0.7723)', () => {
    const split = loadStudentSplit({
      ...base,
      task: 'cqa',
      split: 'test',
      labelSource: 'teacher',
      missingTeacherLabels: 'gold',
      rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }],
    });
    expect(split.examples).toHaveLength(1221);
    expect(split.counts).toMatchObject({ rows: 1221, selected: 1221, missingTeacherLabel: 0, examples: 1221, missingRationale: { palm: 0 } });
    const correct = split.examples.filter((example) => example.label === example.goldLabel).length;
    expect((correct / 1221).toFixed(4)).toBe('0.7723');
    expect(split.examples.map((example) => example.index)).toEqual(Array.from({ length: 1221 }, (_, index) => index));
  });

  test('cqa train row 0: the rationale before "So the answer is", label "math problem"; 3 labels missing, dropped and counted', () => {
    const split = loadStudentSplit({
      ...base,
      task: 'cqa',
      split: 'train',
      labelSource: 'teacher',
      rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 2 }],
    });
    expect(split.counts).toMatchObject({ rows: 9741, missingTeacherLabel: 3, droppedMissingTeacherLabel: 3, goldFallback: 0, examples: 9738 });
    expect(split.examples[0]).toEqual({
      index: 0,
      split: 'train',
      input: expect.stringContaining('\nAnswer Choices:\n(a) park'),
      label: 'math problem',
      goldLabel: 'math problem',
      labelFrom: 'teacher',
      rationales: [
        {
          source: 'palm',
          text: 'The answer must be something that has to do with the above problem. Of the above choices, only math problem has to do with the above problem.',
          weight: 1,
        },
      ],
    });
  });

  test('svamp train: 13 missing labels (gold fallback when asked), 11 missing rationales kept as null or dropped', () => {
    const options: LoadStudentExamplesOptions = {
      ...base,
      task: 'svamp',
      split: 'train',
      labelSource: 'teacher',
      rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }],
    };
    const fallback = loadStudentSplit({ ...options, missingTeacherLabels: 'gold' });
    expect(fallback.counts).toMatchObject({
      rows: 800,
      missingTeacherLabel: 13,
      goldFallback: 13,
      droppedMissingTeacherLabel: 0,
      examples: 800,
      missingRationale: { palm: 11 },
    });
    expect(fallback.examples.filter((example) => example.labelFrom === 'gold-fallback')).toHaveLength(13);
    expect(fallback.examples.filter((example) => example.rationales[0].text === null)).toHaveLength(11);
    const dropped = loadStudentExamples({ ...options, missingTeacherLabels: 'gold', dropMissingRationales: true });
    expect(dropped).toHaveLength(800);
    expect(dropped.filter((example) => example.rationales.length === 0)).toHaveLength(11);
  });

  test('gold labels with PaLM rationales (step-by-step with gt labels)', () => {
    const examples = loadStudentExamples({ ...base, task: 'anli1', split: 'valid', rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }] });
    expect(examples).toHaveLength(1000);
    expect(examples[0].label).toBe('contradiction');
    expect(examples.every((example) => example.labelFrom === 'gold')).toBe(true);
  });
});

describe('generated (`zsd generate`) training data', () => {
  const rows = 200; // svamp test
  function writeGenerated(lines: number, directory = temporaryDirectory('zsd-generated-')): string {
    const content = Array.from({ length: lines }, (_, row) =>
      row % 10 === 3
        ? '{"label": null, "explanation": "a reason without a label"}'
        : row % 10 === 7
          ? '{"label": "x", "explanation": null}'
          : `{"label": "${row}", "explanation": "because ${row}"}`,
    );
    return writeFile(path.join(directory, 'test_CoT.json'), content.map((line) => `${line}\n`).join(''));
  }

  test('labels and explanations line up with rows; a null label drops the row (or falls back to gold); a null explanation is a null rationale', () => {
    const file = writeGenerated(rows);
    const split = loadStudentSplit({
      ...base,
      task: 'svamp',
      split: 'test',
      labelSource: 'teacher',
      rationaleSources: [{ name: 'gpt35', source: { kind: 'generated', file }, weight: 1 }],
    });
    expect(split.counts).toMatchObject({ rows, missingTeacherLabel: 20, droppedMissingTeacherLabel: 20, examples: 180, missingRationale: { gpt35: 20 } });
    expect(split.examples[0]).toMatchObject({ index: 0, label: '0', labelFrom: 'teacher', rationales: [{ source: 'gpt35', text: 'because 0', weight: 1 }] });
    expect(split.examples.find((example) => example.index === 7)).toMatchObject({ label: 'x', rationales: [{ text: null }] });
    expect(split.examples.some((example) => example.index === 3)).toBe(false);
    expect(split.files).toContain(file);

    const fallback = loadStudentExamples({
      ...base,
      task: 'svamp',
      split: 'test',
      labelSource: 'teacher',
      missingTeacherLabels: 'gold',
      rationaleSources: [{ name: 'gpt35', source: { kind: 'generated', file }, weight: 1 }],
    });
    const row3 = fallback.find((example) => example.index === 3) as StudentExample;
    expect(row3.labelFrom).toBe('gold-fallback');
    expect(row3.label).toBe(row3.goldLabel);
    expect(row3.rationales[0].text).toBe('a reason without a label');
  });

  test('a directory means <directory>/<split>_CoT.json; a relative path is read from the workspace', () => {
    const directory = path.join(workspaceRoot, 'datasets', 'svamp', 'gpt_35_turbo', 'mix1');
    writeGenerated(rows, directory);
    const fromDirectory = loadStudentExamples({
      ...base,
      task: 'svamp',
      split: 'test',
      rationaleSources: [{ name: 'gpt35', source: { kind: 'generated', file: 'datasets/svamp/gpt_35_turbo/mix1' }, weight: 1 }],
    });
    expect(fromDirectory).toHaveLength(rows);
    expect(fromDirectory[1].rationales[0].text).toBe('because 1');
  });

  test('two sources at once: weights normalised to sum to 1', () => {
    const file = writeGenerated(rows);
    const examples = loadStudentExamples({
      ...base,
      task: 'svamp',
      split: 'test',
      rationaleSources: [
        { name: 'palm', source: { kind: 'palm' }, weight: 3 },
        { name: 'gpt35', source: { kind: 'generated', file }, weight: 1 },
      ],
    });
    expect(examples[0].rationales.map(({ source, weight }) => [source, weight])).toEqual([
      ['palm', 0.75],
      ['gpt35', 0.25],
    ]);
  });
});

describe('multi-teacher (TinyLLM) rationales', () => {
  test("obqa train: every row has a FLAN-T5 and a LLaMA-2 rationale; inputs have the row's four choices", () => {
    const split = loadStudentSplit({
      ...base,
      task: 'obqa',
      split: 'train',
      rationaleSources: [{ name: 'tinyllm', source: { kind: 'multi-teacher' }, weight: 1 }],
    });
    expect(split.examples).toHaveLength(4957);
    expect(split.counts.missingRationale).toEqual({ flan: 0, llama: 0 });
    expect(split.examples.every((example) => example.rationales.length === 2 && example.rationales.every((rationale) => rationale.text !== null))).toBe(true);
    const first = split.examples[0];
    expect(first.input).toBe(
      'The sun is responsible for\nAnswer Choices:\n(a) puppies learning new tricks\n(b) children growing up and getting old\n(c) flowers wilting in a vase\n(d) plants sprouting, blooming and wilting',
    );
    expect(first.label).toBe('plants sprouting, blooming and wilting');
    expect(first.rationales[0]).toEqual({ source: 'flan', text: 'Sun is responsible for plants sprouting, blooming and wilting.', weight: 0.5 });
    expect(first.rationales[1].source).toBe('llama');
    expect(first.rationales[1].weight).toBe(0.5);
    expect(first.rationales[1].text).toMatch(/^Let's think step by step\.\nIf the sun is not there, the plants will not sprout, bloom and wilt\./);
  });

  test('one teacher, named as the entry; JSON-array splits (arc) read too', () => {
    const examples = loadStudentExamples({
      ...base,
      task: 'arc',
      split: 'valid',
      rationaleSources: [
        { name: 'flan-t5', source: { kind: 'multi-teacher', teacher: 'flan' }, weight: 1 },
        { name: 'llama-2', source: { kind: 'multi-teacher', teacher: 'llama' }, weight: 3 },
      ],
    });
    expect(examples).toHaveLength(295);
    expect(examples[0].rationales.map(({ source, weight }) => [source, weight])).toEqual([
      ['flan-t5', 0.25],
      ['llama-2', 0.75],
    ]);
  });
});

describe('subsample: datasets train_test_split(test_size=1 - s, seed=run)["train"]', () => {
  test('cqa 25% with seed 0 keeps 2435 rows, in the permutation order numpy gives', () => {
    const examples = loadStudentExamples({ ...base, task: 'cqa', split: 'train', subsample: 0.25, seed: 0 });
    expect(examples).toHaveLength(2435);
    expect(examples.slice(0, 8).map((example) => example.index)).toEqual(numpyExpected.cqa_sub25_seed0.head);
  });

  test('svamp 50% with seed 2 keeps 400; another seed keeps other rows; 1 keeps all in order', () => {
    const half = loadStudentExamples({ ...base, task: 'svamp', split: 'train', subsample: 0.5, seed: 2 });
    expect(half).toHaveLength(numpyExpected.svamp_sub50_seed2.n);
    expect(half.slice(0, 8).map((example) => example.index)).toEqual(numpyExpected.svamp_sub50_seed2.head);
    expect(new Set(half.map((example) => example.index)).size).toBe(400);
    const other = loadStudentExamples({ ...base, task: 'svamp', split: 'train', subsample: 0.5, seed: 3 });
    expect(other.map((example) => example.index)).not.toEqual(half.map((example) => example.index));
    const all = loadStudentExamples({ ...base, task: 'svamp', split: 'train', subsample: 1, seed: 3 });
    expect(all.map((example) => example.index)).toEqual(Array.from({ length: 800 }, (_, index) => index));
  });

  test('rationale sources follow the subsampled rows', () => {
    const all = loadStudentExamples({ ...base, task: 'svamp', split: 'train', rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }] });
    const some = loadStudentExamples({
      ...base,
      task: 'svamp',
      split: 'train',
      subsample: 0.1,
      seed: 5,
      rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }],
    });
    expect(some).toHaveLength(800 - Math.ceil(0.9 * 800));
    for (const example of some) expect(example).toEqual(all[example.index]);
  });
});

describe('validation carve (cqa and svamp have no valid split)', () => {
  test('10% of train with seed 0, disjoint from train, together all rows: the rows dsbs validates on', () => {
    const examples = loadStudentExamples({ ...base, task: 'svamp', split: 'train' });
    const { train, validation } = carveValidation(examples, { fraction: 0.1, seed: 0 });
    expect([train.length, validation.length]).toEqual([numpyExpected.svamp_carve.train_n, numpyExpected.svamp_carve.valid_n]);
    expect(validation.slice(0, 8).map((example) => example.index)).toEqual(numpyExpected.svamp_carve.valid_head);
    const trainRows = new Set(train.map((example) => example.index));
    expect(validation.some((example) => trainRows.has(example.index))).toBe(false);
    expect(new Set([...trainRows, ...validation.map((example) => example.index)]).size).toBe(800);
  });

  test('seeded: the same seed the same rows, another seed other rows', () => {
    const examples = loadStudentExamples({ ...base, task: 'svamp', split: 'train' });
    const rowsOf = (seed: number) => carveValidation(examples, { seed }).validation.map((example) => example.index);
    expect(rowsOf(4)).toEqual(rowsOf(4));
    expect(rowsOf(4)).not.toEqual(rowsOf(5));
  });

  test('carved while loading: after the subsample, before teacher labels, so validation rows do not depend on the label source and keep gold labels', () => {
    const file = path.join(temporaryDirectory('zsd-carve-'), 'train_CoT.json');
    fs.writeFileSync(
      file,
      Array.from({ length: 800 }, (_, row) => (row % 4 === 0 ? '{"label": null, "explanation": "e"}\n' : '{"label": "1", "explanation": "e"}\n')).join(''),
    );
    const sources = [{ name: 'gpt35', source: { kind: 'generated' as const, file }, weight: 1 }];
    const gold = loadStudentSplit({
      ...base,
      task: 'svamp',
      split: 'train',
      subsample: 0.5,
      seed: 1,
      rationaleSources: sources,
      carveValidation: { fraction: 0.1, seed: 0 },
    });
    const teacher = loadStudentSplit({
      ...base,
      task: 'svamp',
      split: 'train',
      subsample: 0.5,
      seed: 1,
      labelSource: 'teacher',
      rationaleSources: sources,
      carveValidation: { fraction: 0.1, seed: 0 },
    });
    expect(gold.validation).toHaveLength(40);
    expect(teacher.validation?.map((example) => example.index)).toEqual(gold.validation?.map((example) => example.index));
    expect(teacher.validation?.every((example) => example.label === example.goldLabel && example.labelFrom === 'gold')).toBe(true);
    expect(teacher.counts.selected).toBe(360);
    expect(teacher.counts.examples).toBe(360 - teacher.counts.droppedMissingTeacherLabel);
    expect(teacher.counts.droppedMissingTeacherLabel).toBeGreaterThan(0);
    // Same as carving the loaded, subsampled examples afterwards (nothing dropped with gold labels).
    const afterwards = carveValidation(loadStudentExamples({ ...base, task: 'svamp', split: 'train', subsample: 0.5, seed: 1 }));
    expect(afterwards.validation.map((example) => example.index)).toEqual(gold.validation?.map((example) => example.index));
  });

  test('never from test', () => {
    const test = loadStudentExamples({ ...base, task: 'svamp', split: 'test' });
    expect(errorOf(() => carveValidation(test)).message).toMatch(/refusing to carve validation rows from the test split/);
    expect(errorOf(() => loadStudentSplit({ ...base, task: 'svamp', split: 'test', carveValidation: {} })).kind).toBe('usage');
  });
});

describe('bad input: clear errors naming the file, line or key', () => {
  test('a rationale file shorter (or longer) than its split names the file and both counts', () => {
    const file = path.join(temporaryDirectory('zsd-short-'), 'test_CoT.json');
    fs.writeFileSync(file, '{"label": "1", "explanation": "e"}\n'.repeat(199));
    const short = errorOf(() =>
      loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'gpt35', source: { kind: 'generated', file }, weight: 1 }] }),
    );
    expect(short.kind).toBe('invalid-file');
    expect(short.location.file).toBe(file);
    expect(short.message).toContain('shorter than its split: 199 rationales for the 200 rows of svamp test');
    fs.appendFileSync(file, '{"label": "1", "explanation": "e"}\n'.repeat(2));
    expect(
      errorOf(() =>
        loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'gpt35', source: { kind: 'generated', file }, weight: 1 }] }),
      ).message,
    ).toContain('longer than its split: 201 rationales for the 200 rows');
  });

  test('a PaLM file shorter than its split (a data root of its own)', () => {
    const dataRoot = temporaryDirectory('zsd-palm-short-');
    writeFile(path.join(dataRoot, 'datasets', 'svamp', 'svamp_train.json'), ['1', '2', '3'].map((n) => `{"input": "q${n}", "label": "( ${n} )"}\n`).join(''));
    writeFile(path.join(dataRoot, 'datasets', 'svamp', 'llm', 'train_CoT_0.json'), JSON.stringify(['So 1. The answer is (1).', 'So 2. The answer is (2).']));
    const error = errorOf(() =>
      loadStudentExamples({ ...base, dataRoot, task: 'svamp', split: 'train', rationaleSources: [{ name: 'palm', source: { kind: 'palm' }, weight: 1 }] }),
    );
    expect(error.location.file).toContain(path.join('svamp', 'llm', 'train_CoT_*.json'));
    expect(error.message).toContain('2 rationales for the 3 rows of svamp train');
  });

  test('weights: each finite and >= 0, summing to a positive number', () => {
    const palm = { kind: 'palm' as const };
    const zero = errorOf(() => loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'palm', source: palm, weight: 0 }] }));
    expect(zero.kind).toBe('usage');
    expect(zero.message).toMatch(/rationale weights must sum to a positive number, got palm=0/);
    const negative = errorOf(() =>
      loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'palm', source: palm, weight: -1 }] }),
    );
    expect(negative.location.key).toBe('rationaleSources[0].weight');
    expect(
      errorOf(() => loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'palm', source: palm, weight: Number.NaN }] }))
        .kind,
    ).toBe('usage');
  });

  test.each([0, -0.5, 1.5, Number.NaN])('subsample %p is outside (0, 1]', (subsample) => {
    const error = errorOf(() => loadStudentExamples({ ...base, task: 'svamp', split: 'train', subsample }));
    expect(error.kind).toBe('usage');
    expect(error.location.key).toBe('subsample');
    expect(error.message).toMatch(/subsample must be a fraction in \(0, 1\]/);
  });

  test('a subsample so small that nothing is left', () => {
    const error = errorOf(() => loadStudentExamples({ ...base, task: 'svamp', split: 'train', subsample: 0.0001 }));
    expect(error.message).toMatch(/setting aside 800 of 800 rows leaves none to train on/);
    expect(error.location.key).toBe('subsample');
  });

  test('an unknown source kind names the key', () => {
    const error = errorOf(() =>
      loadStudentExamples({
        ...base,
        task: 'svamp',
        split: 'test',
        rationaleSources: [{ name: 'x', source: { kind: 'gpt4' } as unknown as { kind: 'palm' }, weight: 1 }],
      }),
    );
    expect(error.kind).toBe('usage');
    expect(error.location.key).toBe('rationaleSources[0].source.kind');
    expect(error.message).toMatch(/unknown rationale source kind "gpt4"; expected palm, generated or multi-teacher/);
  });

  test('teacher labels need a source with labels; names must be unique; an unknown label source', () => {
    expect(
      errorOf(() =>
        loadStudentExamples({
          ...base,
          task: 'obqa',
          split: 'valid',
          labelSource: 'teacher',
          rationaleSources: [{ name: 'm', source: { kind: 'multi-teacher' }, weight: 1 }],
        }),
      ).message,
    ).toMatch(/needs a rationale source with labels/);
    expect(
      errorOf(() =>
        loadStudentExamples({
          ...base,
          task: 'svamp',
          split: 'test',
          rationaleSources: [
            { name: 'palm', source: { kind: 'palm' }, weight: 1 },
            { name: 'palm', source: { kind: 'palm' }, weight: 1 },
          ],
        }),
      ).message,
    ).toMatch(/two rationale sources are named "palm"/);
    expect(errorOf(() => loadStudentExamples({ ...base, task: 'svamp', split: 'test', labelSource: 'llm' as 'gold' })).location.key).toBe('labelSource');
  });

  test('a generated file: missing, a bad line, a wrong field type', () => {
    const directory = temporaryDirectory('zsd-bad-generated-');
    const missing = errorOf(() =>
      loadStudentExamples({
        ...base,
        task: 'svamp',
        split: 'test',
        rationaleSources: [{ name: 'g', source: { kind: 'generated', file: path.join(directory, 'nope.json') }, weight: 1 }],
      }),
    );
    expect(missing.kind).toBe('not-found');
    const file = writeFile(path.join(directory, 'test_CoT.json'), '{"label": "1", "explanation": null}\n{"label": 2, "explanation": null}\n');
    const wrongType = errorOf(() =>
      loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'g', source: { kind: 'generated', file }, weight: 1 }] }),
    );
    expect(wrongType.location).toEqual({ file, line: 2, key: 'label' });
    writeFile(file, '{"label": "1"}\n');
    expect(
      errorOf(() =>
        loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'g', source: { kind: 'generated', file }, weight: 1 }] }),
      ).location,
    ).toEqual({
      file,
      line: 1,
      key: 'explanation',
    });
    writeFile(file, '{"label": "1", "explanation": null}\n\n{"label": "1", "explanation": null}\n');
    expect(
      errorOf(() =>
        loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'g', source: { kind: 'generated', file }, weight: 1 }] }),
      ).message,
    ).toMatch(/blank line/);
    writeFile(file, '{"label": "1", "explanation": null}\nnot json\n');
    expect(
      errorOf(() =>
        loadStudentExamples({ ...base, task: 'svamp', split: 'test', rationaleSources: [{ name: 'g', source: { kind: 'generated', file }, weight: 1 }] }),
      ).location,
    ).toEqual({ file, line: 2 });
  });

  test('multi-teacher rationales for a task that has none', () => {
    expect(
      errorOf(() =>
        loadStudentExamples({ ...base, task: 'anli1', split: 'valid', rationaleSources: [{ name: 'm', source: { kind: 'multi-teacher' }, weight: 1 }] }),
      ).kind,
    ).toBe('not-found');
  });
});
