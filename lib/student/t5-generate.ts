/**
 * Text generation with a T5Model: greedy and beam search, with Hugging Face `generate` semantics.
 *
 * Both run the encoder once and decode incrementally: each step feeds only the newest token, with the decoder
 * self-attention keys/values of earlier positions and the cross-attention keys/values (computed once from the
 * encoder output) in a DecoderCache. Weights are transposed once per call (InferenceParameters).
 *
 * Greedy (transformers' `_sample` without sampling): start from decoder_start_token_id; at each step append the
 * argmax token (the first index on ties, as torch.argmax); a sequence that produced eos gets the pad token from
 * then on; stop when all sequences are finished or after maxNewTokens tokens.
 *
 * Beam search (transformers 4.50+ / 5 `_beam_search`, `num_beams=k`, `early_stopping=False`):
 * - Running beams carry the float32 sum of token log-probabilities (log_softmax of the logits). Initially only
 *   beam 0 is live (the others start at -1e9), so the first step does not pick the same token k times.
 * - Each step ranks all beam x vocabulary continuations by accumulated score and keeps the top 2k. A candidate
 *   "finishes" when its token is eos or when the sequence reaches the maximum length (1 + maxNewTokens).
 * - The next running beams are the best k candidates that did not finish.
 * - Candidates ranked in the top k that finished enter the finished list with the length-normalised score
 *   score = sum_logprobs / generated_length ** length_penalty, where generated_length counts the tokens after the
 *   decoder start token, eos included (transformers: `topk_log_probs / (cur_len + 1 - decoder_prompt_len) **
 *   length_penalty`, and BeamHypotheses.add's `sum_logprobs / generated_len ** length_penalty` before 4.50). The
 *   finished list keeps the best k.
 * - An input stops (early_stopping=False heuristic) once it has k finished hypotheses and the best running beam's
 *   score divided by its current generated length cannot beat the worst finished one.
 * - Results: per input the k finished hypotheses sorted by score (best first); `sequences` holds the best, padded
 *   with the pad token.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../core/errors';
import { disposeDecoderCache, disposeSelfAttentionCache, reorderSelfAttentionCache, type DecoderCache, type T5Model } from './t5-model';

export interface GenerationInput {
  /** [batch, source] token ids */
  inputIds: number[][];
  /** [batch, source] 0/1; default as transformers: 0 where the input is the pad token, else 1 */
  attentionMask?: number[][];
}

export interface GenerationOptions {
  maxNewTokens: number;
  /** 1 (default) is greedy decoding */
  numBeams?: number;
  /** exponent of the generated length in the beam score; default 1.0 */
  lengthPenalty?: number;
}

export interface BeamHypothesis {
  /** decoder start token, then the generated tokens (eos included when the hypothesis ended with it) */
  tokens: number[];
  /** sum of the generated tokens' log-probabilities (float32, as accumulated during the search) */
  sumLogProbs: number;
  /** sumLogProbs / generatedLength ** lengthPenalty */
  score: number;
}

export interface BeamSearchResult {
  /** the best hypothesis per input, padded with the pad token to a common length */
  sequences: number[][];
  /** per input, the numBeams finished hypotheses, best first */
  hypotheses: BeamHypothesis[][];
}

/** Greedy or beam search (numBeams > 1); returns [batch, 1 + generated] token ids starting with the start token. */
export function generate(model: T5Model, input: GenerationInput, options: GenerationOptions): number[][] {
  return (options.numBeams ?? 1) > 1 ? beamSearch(model, input, options).sequences : greedyGenerate(model, input, options);
}

export function greedyGenerate(model: T5Model, input: GenerationInput, options: GenerationOptions): number[][] {
  const { config } = model;
  checkOptions(options);
  const batch = input.inputIds.length;
  const sequences = input.inputIds.map(() => [config.decoderStartTokenId]);
  const finished = new Array<boolean>(batch).fill(false);
  withDecoder(model, input, 1, (step) => {
    for (let position = 0; position < options.maxNewTokens && !finished.every(Boolean); position++) {
      const logits = step(sequences.map((sequence) => sequence[sequence.length - 1]));
      const vocab = logits.length / batch;
      for (let row = 0; row < batch; row++) {
        const token = finished[row] ? config.padTokenId : argmax(logits, row * vocab, vocab);
        sequences[row].push(token);
        if (token === config.eosTokenId) finished[row] = true;
      }
    }
  });
  return sequences;
}

interface RunningBeam {
  tokens: number[];
  sumLogProbs: number;
  /** row of the decoder cache holding this beam's keys and values */
  row: number;
}

interface Candidate {
  beam: number;
  token: number;
  sumLogProbs: number;
}

export function beamSearch(model: T5Model, input: GenerationInput, options: GenerationOptions): BeamSearchResult {
  const { config } = model;
  checkOptions(options);
  const numBeams = options.numBeams ?? 1;
  const lengthPenalty = options.lengthPenalty ?? 1.0;
  const batch = input.inputIds.length;
  const maxLength = 1 + options.maxNewTokens;
  const candidatesKept = 2 * numBeams;
  const running: RunningBeam[][] = [];
  for (let item = 0; item < batch; item++) {
    running.push(
      Array.from({ length: numBeams }, (_, beam) => ({
        tokens: [config.decoderStartTokenId],
        sumLogProbs: beam === 0 ? 0 : -1e9,
        row: item * numBeams + beam,
      })),
    );
  }
  const finished: BeamHypothesis[][] = running.map(() => []);
  const stopped = new Array<boolean>(batch).fill(false); // the early-stopping heuristic says no improvement is possible
  const score = (sumLogProbs: number, generatedLength: number) => Math.fround(sumLogProbs / generatedLength ** lengthPenalty);

  withDecoder(model, input, numBeams, (step, reorder) => {
    for (let length = 1; length < maxLength; length++) {
      const logits = step(
        running.flatMap((beams) => beams.map((beam) => beam.tokens[beam.tokens.length - 1])),
        true,
      );
      const vocab = logits.length / (batch * numBeams);
      const reachesMaxLength = length + 1 === maxLength;
      const sourceRows: number[] = [];
      for (let item = 0; item < batch; item++) {
        const beams = running[item];
        const candidates = topCandidates(logits, beams, vocab, candidatesKept);
        const finishes = (candidate: Candidate) => reachesMaxLength || candidate.token === config.eosTokenId;
        if (!stopped[item]) {
          for (const candidate of candidates.slice(0, numBeams).filter(finishes)) {
            const tokens = [...beams[candidate.beam].tokens, candidate.token];
            insertFinished(finished[item], { tokens, sumLogProbs: candidate.sumLogProbs, score: score(candidate.sumLogProbs, length) }, numBeams);
          }
        }
        const continuing = candidates.filter((candidate) => !finishes(candidate)).slice(0, numBeams);
        running[item] = continuing.map((candidate, beam) => ({
          tokens: [...beams[candidate.beam].tokens, candidate.token],
          sumLogProbs: candidate.sumLogProbs,
          row: item * numBeams + beam,
        }));
        for (const candidate of continuing) sourceRows.push(beams[candidate.beam].row);
      }
      if (reachesMaxLength) break;
      for (let item = 0; item < batch; item++) {
        const full = finished[item].length === numBeams;
        const bestRunning = Math.fround(running[item][0].sumLogProbs / length ** lengthPenalty);
        if (full && !(bestRunning > finished[item][numBeams - 1].score)) stopped[item] = true;
      }
      if (stopped.every(Boolean)) break;
      reorder(sourceRows);
    }
  });

  const best = finished.map((hypotheses) => hypotheses[0].tokens);
  const width = Math.max(...best.map((tokens) => tokens.length));
  const sequences = best.map((tokens) => [...tokens, ...new Array<number>(width - tokens.length).fill(config.padTokenId)]);
  return { sequences, hypotheses: finished };
}

/** The best `count` continuations of the running beams by accumulated float32 log-probability, best first. */
function topCandidates(logProbs: Float32Array, beams: RunningBeam[], vocab: number, count: number): Candidate[] {
  const top: Candidate[] = [];
  for (let beam = 0; beam < beams.length; beam++) {
    const offset = beams[beam].row * vocab;
    const base = beams[beam].sumLogProbs;
    for (let token = 0; token < vocab; token++) {
      const sumLogProbs = Math.fround(logProbs[offset + token] + base);
      if (top.length === count && sumLogProbs <= top[count - 1].sumLogProbs) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].sumLogProbs < sumLogProbs) at--;
      top.splice(at, 0, { beam, token, sumLogProbs });
      if (top.length > count) top.pop();
    }
  }
  return top;
}

function insertFinished(list: BeamHypothesis[], hypothesis: BeamHypothesis, capacity: number): void {
  let at = list.length;
  while (at > 0 && list[at - 1].score < hypothesis.score) at--;
  list.splice(at, 0, hypothesis);
  if (list.length > capacity) list.pop();
}

function argmax(values: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let index = 1; index < length; index++) if (values[offset + index] > values[offset + best]) best = index;
  return best;
}

function checkOptions(options: GenerationOptions): void {
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new ZsdError('usage', `maxNewTokens is ${options.maxNewTokens}; expected a positive integer`);
  }
  const numBeams = options.numBeams ?? 1;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new ZsdError('usage', `numBeams is ${numBeams}; expected a positive integer`);
}

type DecodeStep = (tokens: number[], logSoftmax?: boolean) => Float32Array;
type ReorderBeams = (rows: number[]) => void;

/**
 * Runs `body` with a decoder over the encoded input, each input row repeated `copies` times (beams). `step` feeds
 * one token per row and returns the logits (or log-probabilities) [rows x vocab] on the host; `reorder` keeps the
 * cache rows in the given order. Every tensor is freed when `body` returns or throws.
 */
function withDecoder(model: T5Model, input: GenerationInput, copies: number, body: (step: DecodeStep, reorder: ReorderBeams) => void): void {
  const { config } = model;
  const attentionMask = input.attentionMask ?? input.inputIds.map((row) => row.map((id) => (id === config.padTokenId ? 0 : 1)));
  const rows = input.inputIds.flatMap((_, item) => new Array<number>(copies).fill(item));
  const parameters = model.inferenceParameters();
  let cache: DecoderCache | undefined;
  try {
    cache = tf.tidy(() => {
      const expand = (values: number[][]) =>
        tf.tensor2d(
          rows.map((item) => values[item]),
          undefined,
          'int32',
        );
      const mask = expand(attentionMask);
      const encoderHidden = model.encode(expand(input.inputIds), mask, parameters);
      return model.startDecoding(encoderHidden, mask, parameters);
    });
    const step: DecodeStep = (tokens, logSoftmax = false) => {
      const { logits, cache: extended } = tf.tidy(() => {
        const result = model.decodeStep(tf.tensor2d(tokens, [tokens.length, 1], 'int32'), cache!, parameters);
        return { logits: logSoftmax ? tf.logSoftmax(result.logits) : result.logits, cache: result.cache };
      });
      disposeSelfAttentionCache(cache!);
      cache = extended;
      const values = logits.dataSync() as Float32Array;
      logits.dispose();
      return values;
    };
    const reorder: ReorderBeams = (beamRows) => {
      const reordered = reorderSelfAttentionCache(cache!, beamRows);
      disposeSelfAttentionCache(cache!);
      cache = reordered;
    };
    body(step, reorder);
  } finally {
    if (cache !== undefined) disposeDecoderCache(cache);
    parameters.dispose();
  }
}
