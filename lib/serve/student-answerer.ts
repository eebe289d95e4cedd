/**
 * A trained student as something that answers questions: the checkpoint (a run directory, a checkpoints directory or
 * one checkpoint), its tokenizer and its preprocessing.json (task prefix, number mapping), applied exactly as
 * `zsd predict` applies them, so that the server's answer to an input is predict's prediction for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { readCheckpointPreprocessing, selectedCheckpoint, CHECKPOINTS_INDEX_FILE, type CheckpointPreprocessing } from '../student/checkpoints';
import { mapNumbers, numberMappingOf, unmapNumbers, type NumberMapping } from '../student/number-mapping';
import { generate } from '../student/t5-generate';
import type { T5Model } from '../student/t5-model';
import { CONFIG_FILE, loadT5Model } from '../student/t5-weights';
import { loadT5Tokenizer, t5TokenizerFile, type T5Tokenizer } from '../student/tokenizer';
import { defaultTaskPrefixes } from '../student/batches';

/** One question for the student: the task input as the dataset writes it, and whether a rationale is wanted. */
export interface StudentQuestion {
  input: string;
  explain: boolean;
  /** generated tokens at most, per pass (label, rationale) */
  maxNewTokens: number;
}

export interface StudentAnswer {
  /** the label, with the problem's numbers put back where the student uses number mapping */
  label: string;
  /** what the model wrote for the label before the numbers were put back (number mapping only) */
  modelOutput?: string;
  /** the rationale (explain mode), else null */
  rationale: string | null;
  /** input tokens the model read (both passes in explain mode), `</s>` included */
  promptTokens: number;
  /** tokens the model generated (both passes), `</s>` included, the decoder start token and padding not */
  completionTokens: number;
  /** 'stop' when every pass ended with `</s>`, 'length' when one ran out of tokens */
  finishReason: 'stop' | 'length';
}

/** An input longer than the student reads; the server answers it with OpenAI's context_length_exceeded. */
export class InputTooLongError extends Error {
  constructor(
    readonly tokens: number,
    readonly maxTokens: number,
  ) {
    super(`the input is ${tokens} tokens (task prefix and </s> included); this student reads at most ${maxTokens} (--max-input-length)`);
    this.name = 'InputTooLongError';
  }
}

/** What the server needs of a student; tests give it a fake. */
export interface Answerer {
  /** whether the student was trained with rationales (task_prefix mode): explain mode works */
  readonly canExplain: boolean;
  /** the prefixes the student's inputs carry ('' in standard mode) */
  readonly prefixes: { predict: string; explain: string };
  readonly maxInputTokens: number;
  /** input tokens of a question; throws InputTooLongError when a pass would not fit */
  countInputTokens(input: string, explain: boolean): number;
  /** one answer per question, in order (one generation call per pass for the whole batch) */
  answer(questions: readonly StudentQuestion[]): StudentAnswer[] | Promise<StudentAnswer[]>;
  /** frees the model */
  dispose(): void;
}

export interface StudentAnswererOptions {
  /** --max-input-length: longer inputs are refused */
  maxInputTokens: number;
  numBeams?: number;
  /** tokenizer.json; default the checkpoint's own, else the data root's T5 vocabulary */
  tokenizerFile?: string;
  dataRoot: string;
}

/**
 * The checkpoint a --model path means: a checkpoint (config.json), a checkpoints directory (checkpoints.json: its
 * best, else its latest) or a run directory (checkpoints/checkpoints.json).
 */
export function resolveStudentCheckpoint(target: string): string {
  const directory = path.resolve(target);
  if (!fs.existsSync(directory)) throw new ZsdError('not-found', `no model at ${directory}`);
  // a run directory has a config.json too (the run's): look for checkpoints first
  for (const checkpoints of [directory, path.join(directory, 'checkpoints')]) {
    if (fs.existsSync(path.join(checkpoints, CHECKPOINTS_INDEX_FILE))) return selectedCheckpoint(checkpoints)!;
  }
  if (fs.existsSync(path.join(directory, CONFIG_FILE))) return directory;
  throw new ZsdError(
    'not-found',
    `${directory} is not a checkpoint (no ${CONFIG_FILE}), a checkpoints directory (no ${CHECKPOINTS_INDEX_FILE}) or a training run (no checkpoints/${CHECKPOINTS_INDEX_FILE})`,
  );
}

export class StudentAnswerer implements Answerer {
  readonly canExplain: boolean;
  readonly prefixes: { predict: string; explain: string };
  readonly maxInputTokens: number;
  readonly numberMapping: boolean;
  private readonly numBeams: number;

  private constructor(
    readonly checkpoint: string,
    /** the tokenizer.json the student reads (the page's student fetches it) */
    readonly tokenizerFile: string,
    readonly model: T5Model,
    readonly tokenizer: T5Tokenizer,
    readonly preprocessing: CheckpointPreprocessing | null,
    options: StudentAnswererOptions,
  ) {
    const predict = preprocessing?.inputPrefix ?? defaultTaskPrefixes([]).predict;
    // dsbs's single-source explain prefix; a standard-mode student (no prefix) never learned rationales
    this.canExplain = predict !== '';
    this.prefixes = { predict, explain: this.canExplain ? defaultTaskPrefixes(['rationale']).explain.rationale : '' };
    this.numberMapping = preprocessing?.numberMapping ?? false;
    this.maxInputTokens = options.maxInputTokens;
    this.numBeams = options.numBeams ?? 1;
  }

  /** Loads the checkpoint a --model path means (the backend must be initialised first). */
  static load(target: string, options: StudentAnswererOptions): StudentAnswerer {
    const checkpoint = resolveStudentCheckpoint(target);
    const own = path.join(checkpoint, 'tokenizer.json');
    const tokenizerFile = options.tokenizerFile ?? (fs.existsSync(own) ? own : t5TokenizerFile(options.dataRoot));
    const tokenizer = loadT5Tokenizer(tokenizerFile);
    const preprocessing = readCheckpointPreprocessing(checkpoint);
    const model = loadT5Model(checkpoint);
    return new StudentAnswerer(checkpoint, path.resolve(tokenizerFile), model, tokenizer, preprocessing, options);
  }

  /** Parameters of the model (embedding included). */
  parameterCount(): number {
    let count = 0;
    for (const variable of this.model.parameters.values()) count += variable.size;
    return count;
  }

  /** Bytes of the checkpoint's weight files (model.safetensors, or its shards). */
  weightBytes(): number {
    return fs
      .readdirSync(this.checkpoint)
      .filter((name) => /^model.*\.safetensors$/.test(name))
      .reduce((sum, name) => sum + fs.statSync(path.join(this.checkpoint, name)).size, 0);
  }

  countInputTokens(input: string, explain: boolean): number {
    const mapping = this.numberMapping ? numberMappingOf(input) : null;
    const text = mapping === null ? input : mapNumbers(input, mapping);
    const predictTokens = this.tokenizer.encode(`${this.prefixes.predict}${text}`).length;
    const explainTokens = explain ? this.tokenizer.encode(`${this.prefixes.explain}${text}`).length : 0;
    const longest = Math.max(predictTokens, explainTokens);
    if (longest > this.maxInputTokens) throw new InputTooLongError(longest, this.maxInputTokens);
    return predictTokens + explainTokens;
  }

  answer(questions: readonly StudentQuestion[]): StudentAnswer[] {
    const maxNewTokens = Math.max(...questions.map((question) => question.maxNewTokens));
    if (questions.some((question) => question.maxNewTokens !== maxNewTokens)) {
      throw new ZsdError('internal', 'one batch holds questions with different maxNewTokens (the batcher groups them)');
    }
    const mappings = questions.map((question) => (this.numberMapping ? numberMappingOf(question.input) : null));
    const texts = questions.map((question, index) => (mappings[index] === null ? question.input : mapNumbers(question.input, mappings[index]!)));
    const labels = this.pass(
      texts.map((text) => `${this.prefixes.predict}${text}`),
      maxNewTokens,
    );
    const explained = questions.flatMap((question, index) => (question.explain ? [index] : []));
    const rationales =
      explained.length === 0
        ? []
        : this.pass(
            explained.map((index) => `${this.prefixes.explain}${texts[index]}`),
            maxNewTokens,
          );
    return questions.map((question, index) => {
      const label = labels[index];
      const rationale = question.explain ? rationales[explained.indexOf(index)] : undefined;
      const mapping = mappings[index];
      const unmap = (text: string) => (mapping === null ? text : unmapNumbers(text, mapping));
      return {
        label: unmap(label.text),
        ...(mapping === null ? {} : { modelOutput: label.text }),
        rationale: rationale === undefined ? null : unmap(rationale.text),
        promptTokens: label.inputTokens + (rationale?.inputTokens ?? 0),
        completionTokens: label.generatedTokens + (rationale?.generatedTokens ?? 0),
        finishReason: label.ended && (rationale?.ended ?? true) ? 'stop' : 'length',
      };
    });
  }

  dispose(): void {
    this.model.dispose();
  }

  /** One generation call over the texts: predict's tokenization, generation and decoding. */
  private pass(texts: string[], maxNewTokens: number): { text: string; inputTokens: number; generatedTokens: number; ended: boolean }[] {
    const encoded = this.tokenizer.encodeBatch(texts, { maxLength: this.maxInputTokens, truncation: true, padding: 'longest' });
    const sequences = generate(this.model, { inputIds: encoded.inputIds, attentionMask: encoded.attentionMask }, { maxNewTokens, numBeams: this.numBeams });
    const { eosTokenId } = this.model.config;
    return sequences.map((sequence, index) => {
      const generated = sequence.slice(1);
      const end = generated.indexOf(eosTokenId);
      return {
        text: this.tokenizer.decode(sequence, { skipSpecialTokens: true, cleanUpTokenizationSpaces: true }),
        inputTokens: encoded.attentionMask[index].reduce((sum, bit) => sum + bit, 0),
        generatedTokens: end < 0 ? generated.length : end + 1,
        ended: end >= 0,
      };
    });
  }
}

/** A preprocessing summary for logs and /v1/models. */
export function describePreprocessing(answerer: StudentAnswerer): string {
  const parts = [
    answerer.prefixes.predict === ''
      ? 'no task prefix (standard mode: labels only)'
      : `prefixes "${answerer.prefixes.predict}" / "${answerer.prefixes.explain}"`,
  ];
  if (answerer.numberMapping) parts.push('number mapping');
  return parts.join(', ');
}

/** What /v1/models says about the student besides its name (`zsd compare` reads size and explain mode from it). */
export function studentModelDetails(answerer: StudentAnswerer): Record<string, unknown> {
  return {
    checkpoint: answerer.checkpoint,
    parameters: answerer.parameterCount(),
    model_bytes: answerer.weightBytes(),
    explain: answerer.canExplain,
    number_mapping: answerer.numberMapping,
  };
}
