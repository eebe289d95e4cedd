import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DATA_ROOT } from '../test-support/fixtures';
import { initBackend } from './backend';
import { presetConfig } from './t5-config';
import { beamSearch, generate, greedyGenerate, type GenerationInput } from './t5-generate';
import { T5Model } from './t5-model';
import { loadT5Model } from './t5-weights';

const REFERENCE = path.join(DATA_ROOT, 't5-reference');

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  greedy_generate_8: number[][];
}

function fixture(variant: string): { model: T5Model; input: GenerationInput; reference: Reference } {
  const reference = JSON.parse(fs.readFileSync(path.join(REFERENCE, variant, 'reference.json'), 'utf8')) as Reference;
  return { model: loadT5Model(path.join(REFERENCE, variant)), input: { inputIds: reference.input_ids, attentionMask: reference.attention_mask }, reference };
}

/** A model with an 8-token vocabulary, so that eos (1) comes up within a few steps for some inputs and not others. */
function smallVocabularyModel(): { model: T5Model; input: GenerationInput } {
  const config = presetConfig('t5-efficient-tiny', { vocabSize: 8, dModel: 16, dKv: 4, numHeads: 2, dFf: 32, numLayers: 1, dropoutRate: 0 });
  const inputIds = [
    [2, 3, 4, 1],
    [5, 6, 1, 0],
    [7, 1, 0, 0],
    [3, 3, 3, 1],
    [6, 5, 4, 1],
    [4, 2, 1, 0],
  ];
  return { model: T5Model.randomInit(config, 172), input: { inputIds } };
}

/** Greedy decoding the slow way: the whole decoder re-run on the sequence so far, no cache. */
function greedyWithoutCache(model: T5Model, input: GenerationInput, maxNewTokens: number): number[][] {
  const { config } = model;
  const attentionMask = input.attentionMask ?? input.inputIds.map((row) => row.map((id) => (id === config.padTokenId ? 0 : 1)));
  const sequences = input.inputIds.map(() => [config.decoderStartTokenId]);
  const finished = sequences.map(() => false);
  for (let step = 0; step < maxNewTokens && !finished.every(Boolean); step++) {
    const length = sequences[0].length;
    // (the tensor leaves the tidy, not its data: tidy walks a returned typed array element by element)
    const logitsTensor = tf.tidy(
      () =>
        model.forward({
          inputIds: tf.tensor2d(input.inputIds, undefined, 'int32'),
          attentionMask: tf.tensor2d(attentionMask, undefined, 'int32'),
          decoderInputIds: tf.tensor2d(sequences, undefined, 'int32'),
        }).logits,
    );
    const logits = logitsTensor.dataSync();
    logitsTensor.dispose();
    const vocab = config.vocabSize;
    sequences.forEach((sequence, row) => {
      const last = Array.from(logits.subarray((row * length + length - 1) * vocab, (row * length + length) * vocab));
      const token = finished[row] ? config.padTokenId : last.indexOf(Math.max(...last));
      sequence.push(token);
      if (token === config.eosTokenId) finished[row] = true;
    });
  }
  return sequences;
}

/** The sum of log-probabilities of tokens[1..] given tokens[..-1], by a full teacher-forced forward pass. */
function teacherForcedLogProbability(model: T5Model, inputIds: number[], tokens: number[]): number {
  const attentionMask = [inputIds.map((id) => (id === model.config.padTokenId ? 0 : 1))];
  const logProbabilities = tf.tidy(() => {
    const output = model.forward({
      inputIds: tf.tensor2d([inputIds], undefined, 'int32'),
      attentionMask: tf.tensor2d(attentionMask, undefined, 'int32'),
      decoderInputIds: tf.tensor2d([tokens.slice(0, -1)], undefined, 'int32'),
    });
    return (tf.logSoftmax(output.logits).arraySync() as number[][][])[0];
  });
  return tokens.slice(1).reduce((sum, token, position) => sum + logProbabilities[position][token], 0);
}

beforeAll(async () => {
  await initBackend();
});

describe.each(['v1_1', 'orig'])('greedy on the %s fixture', (variant) => {
  test('equals transformers generate(max_new_tokens=8) and the decode without cache, leaking nothing', () => {
    const { model, input, reference } = fixture(variant);
    const before = tf.memory().numTensors;
    const cached = greedyGenerate(model, input, { maxNewTokens: 8 });
    expect(tf.memory().numTensors).toBe(before);
    expect(cached).toEqual(reference.greedy_generate_8);
    expect(greedyGenerate(model, input, { maxNewTokens: 12 })).toEqual(greedyWithoutCache(model, input, 12));
    model.dispose();
  });

  test('beam search with one beam equals greedy', () => {
    const { model, input, reference } = fixture(variant);
    expect(beamSearch(model, input, { maxNewTokens: 8, numBeams: 1 }).sequences).toEqual(reference.greedy_generate_8);
    model.dispose();
  });
});

describe('with eos coming up (8-token vocabulary)', () => {
  let model: T5Model;
  let input: GenerationInput;
  beforeAll(() => ({ model, input } = smallVocabularyModel()));
  afterAll(() => model.dispose());

  test('greedy stops a sequence at eos, pads it afterwards, and equals the decode without cache', () => {
    const greedy = greedyGenerate(model, input, { maxNewTokens: 10 });
    const eos = model.config.eosTokenId;
    const ended = greedy.filter((row) => row.includes(eos));
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.length).toBeLessThan(greedy.length); // some run to the limit: both paths are exercised
    for (const row of ended) expect(row.slice(row.indexOf(eos) + 1).every((token) => token === model.config.padTokenId)).toBe(true);
    expect(greedy).toEqual(greedyWithoutCache(model, input, 10));
  });

  test('beam search with one beam equals greedy', () => {
    expect(beamSearch(model, input, { maxNewTokens: 10, numBeams: 1 }).sequences).toEqual(greedyGenerate(model, input, { maxNewTokens: 10 }));
    expect(generate(model, input, { maxNewTokens: 10 })).toEqual(greedyGenerate(model, input, { maxNewTokens: 10 }));
  });

  test('beam search (3 beams): hypotheses sorted by score = sum of log-probs / generated length (eos included)', () => {
    const before = tf.memory().numTensors;
    const result = beamSearch(model, input, { maxNewTokens: 10, numBeams: 3 });
    expect(tf.memory().numTensors).toBe(before);
    const eos = model.config.eosTokenId;
    let endedWithEos = 0;
    let endedEarly = 0;
    result.hypotheses.forEach((hypotheses, item) => {
      expect(hypotheses).toHaveLength(3);
      const scores = hypotheses.map((hypothesis) => hypothesis.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      for (const hypothesis of hypotheses) {
        const generated = hypothesis.tokens.length - 1;
        expect(hypothesis.tokens[0]).toBe(model.config.decoderStartTokenId);
        expect(hypothesis.tokens.slice(1, -1)).not.toContain(eos);
        if (hypothesis.tokens[generated] === eos) endedWithEos++;
        if (generated < 10) endedEarly++;
        else expect(generated).toBe(10);
        expect(hypothesis.score).toBeCloseTo(hypothesis.sumLogProbs / generated, 5);
        expect(hypothesis.sumLogProbs).toBeCloseTo(teacherForcedLogProbability(model, input.inputIds[item], hypothesis.tokens), 4);
      }
      const best = result.sequences[item];
      expect(best.slice(0, hypotheses[0].tokens.length)).toEqual(hypotheses[0].tokens);
      expect(best.slice(hypotheses[0].tokens.length).every((token) => token === model.config.padTokenId)).toBe(true);
    });
    expect(endedWithEos).toBeGreaterThan(0);
    expect(endedEarly).toBeGreaterThan(0);
  });
});

test('generation options are checked', () => {
  const { model, input } = smallVocabularyModel();
  expect(() => greedyGenerate(model, input, { maxNewTokens: 0 })).toThrow(/maxNewTokens/);
  expect(() => beamSearch(model, input, { maxNewTokens: 3, numBeams: 0 })).toThrow(/numBeams/);
  model.dispose();
});

// transformers 5.18 `generate(num_beams=k, max_new_tokens=8, length_penalty=1.0, early_stopping=False)` on the
// shared references (fixtures/beam-search-fixture.py).
const TRANSFORMERS_BEAMS: Record<string, Record<string, number[][]>> = {
  v1_1: {
    '2': [
      [0, 12617, 5680, 5680, 1682, 8985, 11639, 26310, 26310],
      [0, 13153, 24089, 18166, 7912, 7912, 7912, 7912, 7912],
    ],
    '3': [
      [0, 12617, 5680, 5680, 1682, 8985, 4550, 23380, 26310],
      [0, 13153, 24089, 18166, 7912, 7912, 7912, 7912, 7912],
    ],
    '4': [
      [0, 12617, 5680, 5680, 1682, 5680, 1682, 5680, 1682],
      [0, 13153, 24089, 18166, 7912, 7912, 7912, 7912, 7912],
    ],
  },
  orig: {
    '2': [
      [0, 4665, 21793, 25415, 21793, 25415, 21793, 4967, 21793],
      [0, 13896, 24972, 25912, 25912, 25912, 25912, 25912, 25912],
    ],
    '3': [
      [0, 4665, 21793, 25415, 21793, 25415, 21793, 4967, 21793],
      [0, 13896, 24972, 25912, 25912, 25912, 25912, 25912, 25912],
    ],
    '4': [
      [0, 7089, 21793, 21793, 21793, 21793, 21793, 8274, 21793],
      [0, 13896, 24972, 25912, 25912, 25912, 25912, 25912, 25912],
    ],
  },
};

test.each(['v1_1', 'orig'])('beam search equals transformers on the %s reference for 2, 3 and 4 beams', async (variant) => {
  await initBackend({ prefer: 'wasm' });
  const directory = path.join(DATA_ROOT, 't5-reference', variant);
  const reference = JSON.parse(fs.readFileSync(path.join(directory, 'reference.json'), 'utf8'));
  const model = loadT5Model(directory);
  try {
    for (const beams of ['2', '3', '4']) {
      const result = beamSearch(
        model,
        { inputIds: reference.input_ids, attentionMask: reference.attention_mask },
        { maxNewTokens: 8, numBeams: Number(beams) },
      );
      expect(result.sequences).toEqual(TRANSFORMERS_BEAMS[variant][beams]);
    }
  } finally {
    model.dispose();
  }
});
