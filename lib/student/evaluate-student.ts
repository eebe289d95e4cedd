/**
 * Scoring a student: greedy (or beam) answers to the predict input of each example, compared with the gold label
 * by the task's rule (svamp: equations by value), with number mapping applied and undone where the run used it.
 */
import { pythonStrip } from '../core/python';
import { equationsAgree } from '../evaluate/equation';
import { mapNumbers, numberMappingOf, unmapNumbers } from './number-mapping';
import { generate } from './t5-generate';
import type { T5Model } from './t5-model';
import type { T5Tokenizer } from './tokenizer';
import type { Prediction } from './train-results';
import type { StudentExample } from './student-examples';

// ---------------------------------------------------------------------------------------------------------------
// Accuracy

export type AnswerRule = 'exact-match' | 'equation';

/** svamp answers are equations compared by value; every other task's labels by exact match after strip. */
export function answerRuleFor(task: string): AnswerRule {
  return task === 'svamp' ? 'equation' : 'exact-match';
}

export function answerIsCorrect(rule: AnswerRule, prediction: string, label: string): boolean {
  return rule === 'equation' ? equationsAgree(prediction, label) : pythonStrip(prediction) === pythonStrip(label);
}

export interface EvaluationOptions {
  rule: AnswerRule;
  /** map the problem's numbers to n0, n1, ... in the input and put them back into the prediction (number-mapping.ts) */
  numberMapping?: boolean;
  /** beam search width; default 1 (greedy) */
  numBeams?: number;
  /** put before each input: "predict: " in task_prefix mode, "" in standard mode */
  inputPrefix: string;
  batchSize: number;
  maxInputLength: number;
  maxNewTokens: number;
}

export interface EvaluationResult {
  accuracy: number;
  predictions: Prediction[];
}

/**
 * Greedy-decodes the predict input of each example and compares with its gold label (never a teacher label).
 * Inputs are batched by length (fewer pad tokens); predictions come back in example order. Decoding skips special
 * tokens and cleans up tokenization spaces, as transformers' batch_decode for T5 did in the study.
 */
export function evaluateStudent(model: T5Model, tokenizer: T5Tokenizer, examples: readonly StudentExample[], options: EvaluationOptions): EvaluationResult {
  if (examples.length === 0) return { accuracy: 0, predictions: [] };
  const mappings = examples.map((example) => (options.numberMapping ? numberMappingOf(example.input) : null));
  const modelInput = (example: StudentExample, index: number) => (mappings[index] === null ? example.input : mapNumbers(example.input, mappings[index]!));
  const encoded = examples.map(
    (example, index) =>
      tokenizer.encodeBatch([options.inputPrefix + modelInput(example, index)], { maxLength: options.maxInputLength, truncation: true }).inputIds[0],
  );
  const order = examples.map((_, index) => index).sort((a, b) => encoded[a].length - encoded[b].length || a - b);
  const texts = new Array<string>(examples.length);
  for (let start = 0; start < order.length; start += options.batchSize) {
    const members = order.slice(start, start + options.batchSize);
    const length = Math.max(...members.map((index) => encoded[index].length));
    const inputIds = members.map((index) => [...encoded[index], ...new Array<number>(length - encoded[index].length).fill(tokenizer.padId)]);
    const attentionMask = members.map((index) => encoded[index].map(() => 1).concat(new Array<number>(length - encoded[index].length).fill(0)));
    const sequences = generate(model, { inputIds, attentionMask }, { maxNewTokens: options.maxNewTokens, numBeams: options.numBeams ?? 1 });
    members.forEach((index, row) => {
      texts[index] = tokenizer.decode(sequences[row], { skipSpecialTokens: true, cleanUpTokenizationSpaces: true });
    });
  }
  const predictions = examples.map((example, index): Prediction => {
    const mapping = mappings[index];
    // with number mapping the model wrote placeholders: the prediction is the answer with the numbers put back
    const prediction = mapping === null ? texts[index] : unmapNumbers(texts[index], mapping);
    return {
      index: example.index,
      input: example.input,
      label: example.goldLabel,
      prediction,
      ...(mapping === null ? {} : { modelOutput: texts[index] }),
      correct: answerIsCorrect(options.rule, prediction, example.goldLabel),
    };
  });
  return { accuracy: predictions.filter((prediction) => prediction.correct).length / predictions.length, predictions };
}
