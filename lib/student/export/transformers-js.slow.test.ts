/** @jest-environment ./lib/test-support/host-typed-arrays-environment.js */
// The exported folder loaded by transformers.js itself (pipeline('text2text-generation', DIR, { local_files_only:
// true })): its tokenizer gives zsd's token ids, and its greedy generation gives zsd's, token for token, on 50 svamp
// test inputs and on the PyTorch reference's inputs. zsd's side is t5-generate.ts's greedyGenerate, what `zsd
// predict` runs (the CLI test compares with the command itself).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline, Tensor, type Text2TextGenerationPipeline } from '@huggingface/transformers';
import { nativeBackendInstalled } from '../../test-support/backends';
import { DATA_ROOT, temporaryDirectory } from '../../test-support/fixtures';
import { initBackend } from '../backend';
import { readModelReference } from '../check-model';
import { presetConfig } from '../t5-config';
import { buildTaskVocabulary } from '../task-vocabulary';
import { greedyGenerate } from '../t5-generate';
import { T5Model } from '../t5-model';
import { loadT5Model, saveT5Model } from '../t5-weights';
import { loadT5Tokenizer, t5TokenizerFile, type T5Tokenizer } from '../tokenizer';
import { exportOnnx } from './export-onnx';

const REFERENCE = path.join(DATA_ROOT, 't5-reference');

// The ONNX side does not depend on zsd's backend, and zsd's parity on wasm is check-model's test: where jest runs
// the student tests a second time pinned to wasm (native backend installed), these run only the first time.
const describeOnce = process.env.ZSD_BACKEND === 'wasm' && nativeBackendInstalled() ? describe.skip : describe;
const MAX_NEW_TOKENS = 12;

/** The first 50 questions of svamp's test split. */
function svampTestInputs(): string[] {
  const lines = fs
    .readFileSync(path.join(DATA_ROOT, 'datasets', 'svamp', 'svamp_test.json'), 'utf8')
    .split('\n')
    .filter(Boolean);
  return lines.slice(0, 50).map((line) => (JSON.parse(line) as { input: string }).input);
}

function int64Tensor(rows: number[][]): Tensor {
  return new Tensor(
    'int64',
    BigInt64Array.from(rows.flat(), (value) => BigInt(value)),
    [rows.length, rows[0].length],
  );
}

/** Token ids up to the first eos (1), inclusive: what greedy decoding means whatever follows in a batch. */
function untilEos(ids: number[]): number[] {
  const end = ids.indexOf(1, 1);
  return end < 0 ? ids : ids.slice(0, end + 1);
}

function rowsOf(tensor: Tensor): number[][] {
  return (tensor.tolist() as (bigint | number)[][]).map((row) => row.map(Number));
}

let inputs: string[];

beforeAll(async () => {
  await initBackend();
  inputs = svampTestInputs();
});

describeOnce.each([
  ['orig', () => path.join(REFERENCE, 'orig')],
  ['v1_1', () => path.join(REFERENCE, 'v1_1')],
  [
    'random zsd student (gated-silu, 1 encoder / 3 decoder layers)',
    () => {
      const directory = temporaryDirectory('zsd-export-student-');
      const config = presetConfig('zsd-scratch', {
        dModel: 32,
        dKv: 8,
        numHeads: 2,
        dFf: 48,
        numLayers: 1,
        numDecoderLayers: 3,
        feedForwardProj: 'gated-silu',
        dropoutRate: 0,
      });
      const model = T5Model.randomInit(config, 7);
      saveT5Model(model, directory);
      model.dispose();
      return directory;
    },
  ],
  [
    'random zsd student with a task vocabulary (its own pruned tokenizer.json)',
    () => {
      const directory = temporaryDirectory('zsd-export-student-');
      const train = fs
        .readFileSync(path.join(DATA_ROOT, 'datasets', 'svamp', 'svamp_train.json'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .slice(0, 200);
      const vocabulary = buildTaskVocabulary(
        t5TokenizerFile(DATA_ROOT),
        train.map((line) => `predict: ${(JSON.parse(line) as { input: string }).input}`),
      );
      const config = presetConfig('zsd-scratch', { vocabSize: vocabulary.size, dModel: 32, dKv: 8, numHeads: 4, dFf: 64, numLayers: 2, dropoutRate: 0 });
      const model = T5Model.randomInit(config, 11);
      saveT5Model(model, directory);
      model.dispose();
      fs.writeFileSync(path.join(directory, 'tokenizer.json'), vocabulary.tokenizerJson);
      return directory;
    },
  ],
])('transformers.js runs the exported %s checkpoint', (variant, checkpointDirectory) => {
  let checkpoint: string;
  let generator: Text2TextGenerationPipeline;
  let zsd: T5Model;
  let tokenizer: T5Tokenizer;

  beforeAll(async () => {
    checkpoint = checkpointDirectory();
    const out = path.join(temporaryDirectory('zsd-export-'), 'model');
    exportOnnx({ model: checkpoint, out, dataRoot: DATA_ROOT, prefix: 'predict: ' });
    generator = (await pipeline('text2text-generation', out, { local_files_only: true })) as Text2TextGenerationPipeline;
    zsd = loadT5Model(checkpoint);
    tokenizer = loadT5Tokenizer(path.join(out, 'tokenizer.json'));
  });

  afterAll(async () => {
    zsd.dispose();
    await generator.dispose();
  });

  test('greedy generation on 50 svamp test inputs: the same tokens as zsd, and the same texts', async () => {
    const prefixed = inputs.map((input) => `predict: ${input}`);
    const encoded = tokenizer.encodeBatch(prefixed, { maxLength: 512, truncation: true, padding: 'longest' });
    const theirs = generator.tokenizer(prefixed, { padding: true, truncation: true });
    expect(rowsOf(theirs.input_ids as Tensor)).toEqual(encoded.inputIds);

    const expected = greedyGenerate(zsd, { inputIds: encoded.inputIds, attentionMask: encoded.attentionMask }, { maxNewTokens: MAX_NEW_TOKENS }).map(untilEos);
    const generated = await generator.model.generate({ ...theirs, max_new_tokens: MAX_NEW_TOKENS } as Parameters<typeof generator.model.generate>[0]);
    const actual = rowsOf(generated as Tensor).map(untilEos);
    const differing = actual.filter((row, index) => JSON.stringify(row) !== JSON.stringify(expected[index])).length;
    expect(differing).toBe(0);
    expect(actual).toEqual(expected);

    // The pipeline itself: config.json's prefix, tokenizing, generating and decoding as a user calls it. In a batch,
    // transformers.js 4.3 lets a sequence go on past its eos while others run (the README says so); these random
    // students never produce eos within MAX_NEW_TOKENS, which the ids above show.
    expect(expected.every((ids) => !ids.includes(zsd.config.eosTokenId))).toBe(true);
    const texts = (await generator(inputs, { max_new_tokens: MAX_NEW_TOKENS })) as { generated_text: string }[];
    expect(texts.map((text) => text.generated_text)).toEqual(
      expected.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: true })),
    );
  });

  test("greedy generation on the reference inputs equals zsd's (and PyTorch's, where recorded)", async () => {
    const reference = readModelReference(path.join(REFERENCE, variant.startsWith('random') ? 'orig' : variant, 'reference.json'));
    const inVocabulary = (rows: number[][]) => rows.map((row) => row.map((id) => (id < zsd.config.vocabSize ? id : 2)));
    reference.input_ids = inVocabulary(reference.input_ids);
    const maxNewTokens = reference.greedy_generate_8[0].length - 1;
    const generated = await generator.model.generate({
      input_ids: int64Tensor(reference.input_ids),
      attention_mask: int64Tensor(reference.attention_mask),
      max_new_tokens: maxNewTokens,
    } as Parameters<typeof generator.model.generate>[0]);
    const expected = greedyGenerate(zsd, { inputIds: reference.input_ids, attentionMask: reference.attention_mask }, { maxNewTokens });
    expect(rowsOf(generated as Tensor).map(untilEos)).toEqual(expected.map(untilEos));
    if (!variant.startsWith('random')) expect(expected).toEqual(reference.greedy_generate_8);
  });
});
