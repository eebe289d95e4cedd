import { getTask } from '../data/tasks';
import { invalidReason, judgeCandidates, normalizeInstruction, parseOptimizerAnswer } from './candidates';

const cqa = getTask('cqa');
const anli1 = getTask('anli1');
const CHOICES = 'a){choice_a} b){choice_b} c){choice_c} d){choice_d} e){choice_e}';

describe('parseOptimizerAnswer', () => {
  test('takes the texts between <PRT> and </PRT>, trimmed, up to the limit; the rest are extra', () => {
    const answer = 'Here you go:\n<PRT> one {question} </PRT>\n<prt>two</PRT> and <PRT>three</PRT><PRT>four</PRT>';
    expect(parseOptimizerAnswer(answer, 3)).toEqual({ texts: ['one {question}', 'two', 'three'], extra: ['four'], unterminated: undefined });
  });

  test('an answer without candidates gives none; a <PRT> never closed is reported, not scored', () => {
    expect(parseOptimizerAnswer('I cannot think of anything better.', 8)).toEqual({ texts: [], extra: [], unterminated: undefined });
    expect(parseOptimizerAnswer('<PRT>ok</PRT> <PRT>cut off mid', 8)).toEqual({ texts: ['ok'], extra: [], unterminated: 'cut off mid' });
  });
});

describe('invalidReason', () => {
  test('a candidate must render and use every field of the task, and never the gold {label}', () => {
    expect(invalidReason(`Answer {question} from ${CHOICES}.`, cqa)).toBeUndefined();
    expect(invalidReason('', cqa)).toBe('empty');
    expect(invalidReason('Answer {question}.', cqa)).toBe('lacks {choice_a}, {choice_b}, {choice_c}, {choice_d}, {choice_e}');
    expect(invalidReason(`Answer {question} ${CHOICES} as {"answer": ...}`, cqa)).toMatch(
      /^not a template: placeholder "\{"answer": ...\}" is not a plain name/,
    );
    expect(invalidReason(`Answer {question} ${CHOICES} {hint}`, cqa)).toMatch(/^unknown placeholder \{hint\}/);
    expect(invalidReason('{premise} {hypothesis} The answer is {label}.', anli1)).toBe('uses {label}, the gold answer');
    expect(invalidReason('Premise: {premise} Hypothesis: {hypothesis} True, false or inconclusive? {{brief}}', anli1)).toBeUndefined();
  });
});

describe('judgeCandidates', () => {
  test('in answer order: invalid, duplicates of scored instructions or of earlier candidates (whitespace aside), else accepted', () => {
    const scored = `Pick one for {question}: ${CHOICES}`;
    const fresh = `Think, then answer {question}: ${CHOICES}`;
    const verdicts = judgeCandidates(
      [fresh, `Pick one for {question}:\n  ${CHOICES}`, 'Answer {question}.', `Think, then  answer {question}: ${CHOICES}`, `Other {question} ${CHOICES}`],
      cqa,
      new Map([[normalizeInstruction(scored), 94]]),
    );
    expect(verdicts.map((verdict) => [verdict.kind, verdict.candidate, 'detail' in verdict ? verdict.detail : ''])).toEqual([
      ['accepted', 0, ''],
      ['duplicate', 1, 'already scored as template 94'],
      ['invalid', 2, 'lacks {choice_a}, {choice_b}, {choice_c}, {choice_d}, {choice_e}'],
      ['duplicate', 3, 'same as candidate 0 of this answer'],
      ['accepted', 4, ''],
    ]);
  });
});
