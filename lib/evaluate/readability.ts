/**
 * Flesch reading ease: 206.835 - 1.015 * (words / sentences) - 84.6 * (syllables / words), computed over
 * all explanations of a template joined by spaces. Like the study's library (py-readability-metrics), texts of
 * fewer than 100 words score 0 (the formula is unreliable on short texts).
 *
 * Own counters, documented because the score depends on them:
 * - words: whitespace-separated tokens that contain a letter or a digit;
 * - sentences: runs of ".", "!" or "?" followed by whitespace or the end, at least 1;
 * - syllables: per word, lower-cased letters only; words of 3 letters or fewer have 1; otherwise a final
 *   silent "e" / "es" / "ed" is dropped (not after "l", as in "table"), a leading "y" is a consonant, and
 *   each group of one or two adjacent vowels (a e i o u y) counts one; every word has at least 1;
 *   a token without letters (a number) counts 1.
 * The study's library counts syllables differently, so scores differ from its numbers by a few points;
 * they are comparable across templates scored by zsd.
 */

export const MIN_WORDS_FOR_FLESCH = 100;

export interface TextStatistics {
  words: number;
  sentences: number;
  syllables: number;
}

export function textStatistics(text: string): TextStatistics {
  const tokens = text.split(/\s+/u).filter((token) => /[\p{L}\p{N}]/u.test(token));
  let syllables = 0;
  for (const token of tokens) syllables += countSyllables(token);
  const sentences = Math.max(1, text.split(/[.!?]+(?=\s|$)/u).filter((segment) => /[\p{L}\p{N}]/u.test(segment)).length);
  return { words: tokens.length, sentences, syllables };
}

export function fleschReadingEase(text: string): number {
  const { words, sentences, syllables } = textStatistics(text);
  if (words < MIN_WORDS_FOR_FLESCH) return 0;
  return 206.835 - 1.015 * (words / sentences) - 84.6 * (syllables / words);
}

export function countSyllables(token: string): number {
  const word = token.toLowerCase().replace(/[^a-z]/g, '');
  if (word.length === 0) return 1;
  if (word.length <= 3) return 1;
  const trimmed = word.replace(/(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$/, (ending) => ending[0]).replace(/^y/, '');
  const groups = trimmed.match(/[aeiouy]{1,2}/g);
  return Math.max(1, groups ? groups.length : 0);
}
