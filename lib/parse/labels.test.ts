import { normalizeTeacherLabel } from './labels';

describe('normalizeTeacherLabel, NLI', () => {
  test.each([
    ['false', 'contradiction'],
    ['not valid', 'contradiction'],
    ['contradicts', 'contradiction'],
    ['contradiction', 'contradiction'],
    ['inconclusive', 'neutral'],
    ['cannot be determined', 'neutral'],
    ['uncertain', 'neutral'],
    ['cannot determine', 'neutral'],
    ['neutral', 'neutral'],
    ['true', 'entailment'],
    ['valid', 'entailment'],
    ['entails', 'entailment'],
    ['entailment', 'entailment'],
  ])('%j becomes %j', (raw, expected) => {
    expect(normalizeTeacherLabel('nli', raw, {})).toBe(expected);
  });

  test('case and surrounding whitespace (Python whitespace included) do not matter', () => {
    expect(normalizeTeacherLabel('nli', 'False', {})).toBe('contradiction');
    expect(normalizeTeacherLabel('nli', ' NOT VALID ', {})).toBe('contradiction');
    expect(normalizeTeacherLabel('nli', 'Cannot Determine', {})).toBe('neutral');
    expect(normalizeTeacherLabel('nli', '\u00a0TRUE\n', {})).toBe('entailment');
    expect(normalizeTeacherLabel('nli', 'Entailment', {})).toBe('entailment');
  });

  test('an unknown word passes through lower-cased and stripped', () => {
    expect(normalizeTeacherLabel('nli', ' Maybe ', {})).toBe('maybe');
  });

  test('inner spacing must match a synonym exactly', () => {
    expect(normalizeTeacherLabel('nli', 'Not  valid', {})).toBe('not  valid');
  });
});

describe('normalizeTeacherLabel, multiple choice', () => {
  // cqa test row 542.
  const values = {
    question: 'Why was this bad?',
    choice_a: 'lose money',
    choice_b: 'fun',
    choice_c: 'have no money',
    choice_d: 'broken law',
    choice_e: 'relaxation',
  };

  test.each([
    ['a)', 'lose money'],
    ['E)', 'relaxation'],
    ['d)', 'broken law'],
    ['1)', 'lose money'],
    ['3)', 'have no money'],
    ['5.', 'relaxation'],
    [' 2 )', 'fun'],
    ['3 .', 'have no money'],
    ['\u00a0c)\n', 'have no money'],
  ])('the identifier %j maps to the choice text %j', (raw, expected) => {
    expect(normalizeTeacherLabel('multiple-choice', raw, values)).toBe(expected);
  });

  test('a choice text stays as given, lower-cased and stripped', () => {
    expect(normalizeTeacherLabel('multiple-choice', 'broken law', values)).toBe('broken law');
    expect(normalizeTeacherLabel('multiple-choice', ' Broken Law ', values)).toBe('broken law');
    expect(normalizeTeacherLabel('multiple-choice', 'FUN', values)).toBe('fun');
  });

  test('identifiers outside a-e / 1-5 and other shapes are not mapped', () => {
    expect(normalizeTeacherLabel('multiple-choice', 'f)', values)).toBe('f)');
    expect(normalizeTeacherLabel('multiple-choice', '6)', values)).toBe('6)');
    expect(normalizeTeacherLabel('multiple-choice', 'a.', values)).toBe('a.');
    expect(normalizeTeacherLabel('multiple-choice', '(a)', values)).toBe('(a)');
    expect(normalizeTeacherLabel('multiple-choice', 'A', values)).toBe('a');
  });

  test('NLI synonyms are not applied to other tasks', () => {
    expect(normalizeTeacherLabel('multiple-choice', 'True', values)).toBe('true');
    expect(normalizeTeacherLabel('math', 'True', {})).toBe('true');
  });
});

describe('normalizeTeacherLabel, math and generic', () => {
  test('the label is lower-cased and stripped, nothing else', () => {
    expect(normalizeTeacherLabel('math', ' 12.50\n', {})).toBe('12.50');
    expect(normalizeTeacherLabel('math', '6 Flower Beds', {})).toBe('6 flower beds');
    expect(normalizeTeacherLabel('generic', '  Yes ', {})).toBe('yes');
    expect(normalizeTeacherLabel('generic', 'a)', { choice_a: 'ignored' })).toBe('a)');
  });
});
