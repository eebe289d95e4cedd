import { getTask } from '../data/tasks';
import { DATA_ROOT } from '../test-support/fixtures';
import { readPalmCompletions, splitPalmCompletion } from './palm';

describe('PaLM completions are split as distilling-step-by-step splits them', () => {
  test('cqa: rationale before "So the answer is", label = choice text after "(x)", follow-on question dropped', () => {
    const output =
      'The answer must be the place where beavers get their supplies. Of the above choices, only wooded areas have the supplies that beavers need. So the answer is (c) wooded area.\n\nQ: What is the best way to get rid of a bad smell?\nA: ...';
    expect(splitPalmCompletion('cqa', output)).toEqual({
      rationale: 'The answer must be the place where beavers get their supplies. Of the above choices, only wooded areas have the supplies that beavers need.',
      label: 'wooded area',
    });
  });

  test('svamp: label = the parenthesised equation after "The answer is"', () => {
    expect(splitPalmCompletion('svamp', 'So they planted 10 * 45 seeds. The answer is (10 * 45).\n\nQ: There are 15 trees')).toEqual({
      rationale: 'So they planted 10 * 45 seeds.',
      label: '(10 * 45)',
    });
  });

  test('anli1: text before "Premise:", the word after "So the answer is" without its full stop', () => {
    expect(
      splitPalmCompletion('anli1', 'Oxford Street is not on the continent of Europe. So the answer is contradiction.\n\nPremise: The 2016–17 season'),
    ).toEqual({
      rationale: 'Oxford Street is not on the continent of Europe.',
      label: 'contradiction',
    });
  });

  test('esnli: rationale before "Answer:", label up to the next "Premise"', () => {
    expect(splitPalmCompletion('esnli', 'The church choir is singing joyous songs.\nAnswer: entailment\n\nPremise: This church choir sings')).toEqual({
      rationale: 'The church choir is singing joyous songs.',
      label: 'entailment',
    });
  });

  test('a completion without the answer phrase gives an empty label', () => {
    expect(splitPalmCompletion('svamp', 'I am not sure.').label).toBe('');
    expect(splitPalmCompletion('anli1', 'No verdict here.').label).toBe('');
  });

  test('chunks are read in order and give one completion per split row', () => {
    expect(readPalmCompletions(DATA_ROOT, getTask('esnli'), 'test')).toHaveLength(9824);
    const cqa = readPalmCompletions(DATA_ROOT, getTask('cqa'), 'train');
    expect(cqa).toHaveLength(9741);
    expect(cqa[9740].index).toBe(9740);
  });

  test('a split without PaLM files is an error naming the expected file', () => {
    expect(() => readPalmCompletions(DATA_ROOT, getTask('anli1'), 'train')).toThrow(/no PaLM rationales for anli1 train: expected .*train_CoT_0\.json/);
  });
});
