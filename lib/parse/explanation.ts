import { PYTHON_WHITESPACE_CLASS, PYTHON_WORD_CLASS, pythonIsLowerCharacter, pythonStrip, pythonWordCount } from '../core/python';

/**
 * Explanation cleaning, in the study's order:
 * 1. drop "explanation" with the punctuation and spaces after it ("Explanation: ...");
 * 2. drop ". Answer" with what follows it up to the next word (". Answer: 6" -> "6");
 * 3. drop leading non-word characters (".", ":", "-", quotes);
 * 4. math markup: `<<9-4=5>>5` -> `9-4=5` (greedy, as the study: across several markups on a line);
 * 5. LaTeX commands with an opening brace and every closing brace: `\boxed{3}` -> `3`;
 * 6. collapse whitespace to single spaces and strip;
 * 7. a leading fragment that starts lower-case (the tail of a sentence cut by the pattern) is dropped
 *    when another sentence follows (". " splits sentences);
 * 8. fewer than 5 words left: no explanation.
 */

const EXPLANATION_WORD = new RegExp(`explanation[.:\\-,${PYTHON_WHITESPACE_CLASS}]*`, 'giu');
const ANSWER_TAIL = new RegExp(`\\. Answer[.:\\-,${PYTHON_WHITESPACE_CLASS}]*`, 'gu');
const LEADING_NON_WORD = new RegExp(`^[^${PYTHON_WORD_CLASS}]+`, 'u');
const MATH_MARKUP = /<<([^\n]+)>>\p{Nd}+/gu;
const LATEX_COMMAND_OR_BRACE = new RegExp(`\\\\+[${PYTHON_WORD_CLASS}]+\\{|\\}`, 'giu');
const WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+`, 'gu');

export const MIN_EXPLANATION_WORDS = 5;

export function cleanExplanation(raw: string): string | null {
  let explanation = raw
    .replace(EXPLANATION_WORD, '')
    .replace(ANSWER_TAIL, '')
    .replace(LEADING_NON_WORD, '')
    .replace(MATH_MARKUP, '$1')
    .replace(LATEX_COMMAND_OR_BRACE, '')
    .replace(WHITESPACE_RUN, ' ');
  explanation = pythonStrip(explanation);
  explanation = dropLeadingFragment(explanation);
  return pythonWordCount(explanation) < MIN_EXPLANATION_WORDS ? null : explanation;
}

function dropLeadingFragment(explanation: string): string {
  const separator = explanation.indexOf('. ');
  if (separator < 0) return explanation;
  const first = explanation.slice(0, separator);
  // The study's code fails on an empty first segment (an explanation starting with ". ") and keeps the
  // text uncleaned; no recorded response hits that case, and keeping the text is the sane reading of it.
  if (first === '') return explanation;
  return pythonIsLowerCharacter(String.fromCodePoint(first.codePointAt(0)!)) ? explanation.slice(separator + 2) : explanation;
}
