import { ZsdError } from '../core/errors';
import { NumpyGenerator } from '../core/numpy-random';
import { checkSeed, type StudentExample } from './student-examples';
import type { T5Tokenizer } from './tokenizer';

/**
 * The batches of one epoch, as distilling-step-by-step (dsbs) builds them (run.py, model_utils.py): a predict
 * batch with prefix `predict: ` and an explain batch per rationale source with `explain: `; targets truncated to 256
 * tokens; labels padded with -100 (DataCollatorForSeq2Seq).
 */

export interface EncodedBatch {
  inputIds: number[][];
  /** 1 on tokens, 0 on padding. */
  attentionMask: number[][];
  /** Target ids ending in `</s>`, -100 on padding (ignored by the loss). */
  labels: number[][];
  task: 'predict' | 'explain';
  /** Explain batches: the rationale source. */
  source?: string;
  /** Explain batches: the source's normalised weight (rationale weights sum to 1). */
  weight?: number;
  /** `StudentExample.index` of each row, in batch order. */
  rows: number[];
}

export interface TaskPrefixes {
  predict: string;
  /** Per rationale source. */
  explain: Readonly<Record<string, string>>;
}

export interface MakeBatchesOptions {
  batchSize: number;
  /** Input tokens kept, `</s>` included (dsbs `--max_input_length`, 1024). */
  maxInputLength: number;
  /** Target tokens kept, `</s>` included; dsbs 256. */
  maxTargetLength?: number;
  seed: number;
  /** Each epoch draws its own order from `default_rng([seed, epoch])`. */
  epoch: number;
  /** Sort by input length within chunks of `bucketChunkBatches` batches, then shuffle batches. Default true. */
  bucketByLength?: boolean;
  /** Default 50. */
  bucketChunkBatches?: number;
  /** `task_prefix` (default): predict + one explain batch per rationale source; `standard`: unprefixed input -> label only. */
  mode?: 'task_prefix' | 'standard';
  /** Leave examples whose rationale is missing out of that explain batch, instead of an empty target. */
  dropMissingRationales?: boolean;
  /** Default: `predict: `, and `explain: ` for a single source, `explain <source>: ` for each of several. */
  prefixes?: Partial<TaskPrefixes>;
}

/** dsbs's prefixes; with several rationale sources each gets its own, so one input never has two different targets. */
export function defaultTaskPrefixes(sources: readonly string[]): TaskPrefixes {
  return {
    predict: 'predict: ',
    explain: Object.fromEntries(sources.map((source) => [source, sources.length === 1 ? 'explain: ' : `explain ${source}: `])),
  };
}

/** Rationale source names of the examples, in order of first appearance. */
export function rationaleSourceNames(examples: readonly StudentExample[]): string[] {
  const names: string[] = [];
  for (const example of examples) for (const rationale of example.rationales) if (!names.includes(rationale.source)) names.push(rationale.source);
  return names;
}

/**
 * One epoch of training steps. Each step is `[predict batch, explain batch per rationale source...]` over the same
 * examples (dsbs's TaskPrefixDataCollator); every example is in exactly one step. Explain batches are left out of a
 * step where no example has that rationale (with `dropMissingRationales`). Deterministic for (seed, epoch).
 *
 * Order: `default_rng([seed, epoch]).permutation(n)`; with bucketing, that order is cut into chunks of
 * `batchSize * bucketChunkBatches` examples, each chunk sorted by input token length (stable) and cut into batches,
 * then the batches are put in the order of a second permutation from the same generator. Only the epoch's last
 * chunk can end in a short batch. Padding: to the longest row of each batch (dsbs's collator).
 */
export function makeBatches(examples: readonly StudentExample[], tokenizer: T5Tokenizer, options: MakeBatchesOptions): EncodedBatch[][] {
  const { batchSize, maxInputLength, seed, epoch } = options;
  const maxTargetLength = options.maxTargetLength ?? 256;
  const chunkBatches = options.bucketChunkBatches ?? 50;
  for (const [key, value] of Object.entries({ batchSize, maxInputLength, maxTargetLength, bucketChunkBatches: chunkBatches })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new ZsdError('usage', `${key} must be a positive integer, got ${String(value)}`, { key });
  }
  checkSeed(seed, 'seed');
  checkSeed(epoch, 'epoch');
  const mode = options.mode ?? 'task_prefix';
  if (mode !== 'task_prefix' && mode !== 'standard')
    throw new ZsdError('usage', `unknown mode "${String(mode)}"; expected task_prefix or standard`, { key: 'mode' });
  const sources = mode === 'standard' ? [] : rationaleSourceNames(examples);
  const defaults = defaultTaskPrefixes(sources);
  const prefixes: TaskPrefixes = {
    predict: mode === 'standard' ? '' : (options.prefixes?.predict ?? defaults.predict),
    explain: { ...defaults.explain, ...options.prefixes?.explain },
  };

  const encode = (texts: string[], maxLength: number): number[][] => tokenizer.encodeBatch(texts, { maxLength, truncation: true }).inputIds;
  const predictInputs = encode(
    examples.map((example) => prefixes.predict + example.input),
    maxInputLength,
  );
  const labels = encode(
    examples.map((example) => example.label),
    maxTargetLength,
  );

  const generator = NumpyGenerator.defaultRng([seed, epoch]);
  const order = generator.permutation(examples.length);
  let batches: number[][] = [];
  if (options.bucketByLength ?? true) {
    const chunkSize = batchSize * chunkBatches;
    for (let start = 0; start < order.length; start += chunkSize) {
      const chunk = order.slice(start, start + chunkSize).sort((a, b) => predictInputs[a].length - predictInputs[b].length);
      for (let at = 0; at < chunk.length; at += batchSize) batches.push(chunk.slice(at, at + batchSize));
    }
    batches = generator.permutation(batches.length).map((position) => batches[position]);
  } else {
    for (let at = 0; at < order.length; at += batchSize) batches.push(order.slice(at, at + batchSize));
  }

  // Explain inputs and rationale targets, encoded once per (example, source).
  const explainEncodings = new Map<string, { inputs: Map<number, number[]>; targets: Map<number, number[]>; weight: number }>();
  const dropMissing = options.dropMissingRationales ?? false;
  for (const source of sources) {
    const prefix = prefixes.explain[source];
    const members: number[] = [];
    const texts: string[] = [];
    let weight = 0;
    examples.forEach((example, position) => {
      const rationale = example.rationales.find((entry) => entry.source === source);
      if (!rationale || (rationale.text === null && dropMissing)) return;
      members.push(position);
      texts.push(rationale.text ?? '');
      weight = rationale.weight;
    });
    const inputIds = encode(
      members.map((position) => prefix + examples[position].input),
      maxInputLength,
    );
    const targetIds = encode(texts, maxTargetLength);
    explainEncodings.set(source, {
      inputs: new Map(members.map((position, at) => [position, inputIds[at]])),
      targets: new Map(members.map((position, at) => [position, targetIds[at]])),
      weight,
    });
  }

  return batches.map((batch) => {
    const step: EncodedBatch[] = [
      padBatch(
        batch.map((position) => predictInputs[position]),
        batch.map((position) => labels[position]),
        batch.map((position) => examples[position].index),
        tokenizer.padId,
        { task: 'predict' },
      ),
    ];
    for (const source of sources) {
      const encoding = explainEncodings.get(source) as NonNullable<ReturnType<typeof explainEncodings.get>>;
      const members = batch.filter((position) => encoding.inputs.has(position));
      if (members.length === 0) continue;
      step.push(
        padBatch(
          members.map((position) => encoding.inputs.get(position) as number[]),
          members.map((position) => encoding.targets.get(position) as number[]),
          members.map((position) => examples[position].index),
          tokenizer.padId,
          { task: 'explain', source, weight: encoding.weight },
        ),
      );
    }
    return step;
  });
}

/** Label id that the loss ignores (PyTorch's CrossEntropyLoss default, DataCollatorForSeq2Seq's label padding). */
export const IGNORED_LABEL_ID = -100;

function padBatch(
  inputs: number[][],
  targets: number[][],
  rows: number[],
  padId: number,
  fields: Pick<EncodedBatch, 'task' | 'source' | 'weight'>,
): EncodedBatch {
  const inputLength = Math.max(...inputs.map((ids) => ids.length));
  const targetLength = Math.max(...targets.map((ids) => ids.length));
  return {
    inputIds: inputs.map((ids) => [...ids, ...new Array<number>(inputLength - ids.length).fill(padId)]),
    attentionMask: inputs.map((ids) => [...new Array<number>(ids.length).fill(1), ...new Array<number>(inputLength - ids.length).fill(0)]),
    labels: targets.map((ids) => [...ids, ...new Array<number>(targetLength - ids.length).fill(IGNORED_LABEL_ID)]),
    ...fields,
    rows,
  };
}
