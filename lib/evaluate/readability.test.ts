import { countSyllables, fleschReadingEase, MIN_WORDS_FOR_FLESCH, textStatistics } from './readability';

describe('countSyllables', () => {
  test.each([
    ['cat', 1],
    ['dog', 1],
    ['table', 2],
    ['apple', 2],
    ['little', 2],
    ['people', 2],
    ['bottles', 2],
    ['answer', 2],
    ['because', 2],
    ['garden', 2],
    ['happy', 2],
    ['question', 2],
    ['regular', 3],
    ['animals', 3],
    ['newspaper', 3],
    ['explanation', 4],
  ])('%s has its dictionary count, %i', (word, syllables) => {
    expect(countSyllables(word)).toBe(syllables);
  });

  test('a final silent "e", "es" or "ed" adds no syllable', () => {
    expect(countSyllables('make')).toBe(1);
    expect(countSyllables('makes')).toBe(1);
    expect(countSyllables('liked')).toBe(1);
    expect(countSyllables('walked')).toBe(1);
  });

  test('a final "le" after a consonant keeps its syllable', () => {
    expect(countSyllables('simple')).toBe(2);
  });

  test('a leading "y" is a consonant', () => {
    expect(countSyllables('year')).toBe(1);
    expect(countSyllables('yellow')).toBe(2);
  });

  test('case and punctuation around the word are ignored', () => {
    expect(countSyllables('Explanation,')).toBe(4);
    expect(countSyllables('"Table."')).toBe(2);
  });

  test('words of three letters or fewer, and tokens without letters, count one', () => {
    expect(countSyllables('eye')).toBe(1);
    expect(countSyllables('you')).toBe(1);
    expect(countSyllables('42')).toBe(1);
    expect(countSyllables('3.5')).toBe(1);
  });

  test('known limitation: "ed" after "t" or "d" is dropped as if silent ("created" counts 1, not 2)', () => {
    expect(countSyllables('created')).toBe(1);
    expect(countSyllables('wanted')).toBe(1);
  });
});

describe('textStatistics', () => {
  test('counts words, sentences and syllables', () => {
    expect(textStatistics('The little apple is on the table.')).toEqual({ words: 7, sentences: 1, syllables: 10 });
  });

  test('a sentence ends at a run of ".", "!" or "?" before whitespace or the end', () => {
    expect(textStatistics('Hello world. This is a test! Is it?? Yes').sentences).toBe(4);
  });

  test('a period inside a number does not end a sentence, one before a space does', () => {
    // Syllables: it 1, costs 1, 3.5 1, dollars 2, i.e. 1, cheap 1.
    expect(textStatistics('It costs 3.5 dollars, i.e. cheap')).toEqual({ words: 6, sentences: 2, syllables: 7 });
  });

  test('tokens without a letter or digit are not words', () => {
    expect(textStatistics('cheap - really ... yes').words).toBe(3);
  });

  test('a text with no sentence ending still has one sentence', () => {
    expect(textStatistics('no full stop here')).toEqual({ words: 4, sentences: 1, syllables: 4 });
    expect(textStatistics('')).toEqual({ words: 0, sentences: 1, syllables: 0 });
  });
});

describe('fleschReadingEase', () => {
  const ninetyNineWords = Array.from({ length: 99 }, () => 'cat').join(' ');

  test(`is 0 below ${MIN_WORDS_FOR_FLESCH} words`, () => {
    expect(MIN_WORDS_FOR_FLESCH).toBe(100);
    expect(fleschReadingEase(ninetyNineWords)).toBe(0);
    expect(fleschReadingEase('The little apple is on the table.')).toBe(0);
  });

  test('at exactly 100 words it applies the formula', () => {
    // 100 words, 1 sentence, 100 syllables: 206.835 - 1.015 * 100 - 84.6 * 1.
    expect(fleschReadingEase(`${ninetyNineWords} cat`)).toBeCloseTo(20.735, 10);
  });

  test('is 206.835 - 1.015 * words/sentences - 84.6 * syllables/words on a longer text', () => {
    // Per pair of sentences: "The little apple is on the table." 7 words, 10 syllables (1+2+2+1+1+1+2);
    // "Flowers grow in the garden!" 5 words, 7 syllables (2+1+1+1+2). Ten pairs: 120 words, 20 sentences, 170 syllables.
    const text = 'The little apple is on the table. Flowers grow in the garden! '.repeat(10);
    expect(textStatistics(text)).toEqual({ words: 120, sentences: 20, syllables: 170 });
    expect(fleschReadingEase(text)).toBeCloseTo(206.835 - 1.015 * (120 / 20) - 84.6 * (170 / 120), 10);
    expect(fleschReadingEase(text)).toBeCloseTo(80.895, 10);
  });
});
