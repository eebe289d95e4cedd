/**
 * Number mapping, the standard preprocessing of math-word-problem solvers: each distinct number of the problem, in
 * order of first appearance, becomes a placeholder `n0`, `n1`, ... in the input, the label equation and the
 * rationale, matched by value (the label's `10.0` is the problem's `10`; numbers that are not in the problem, such as
 * a rationale's intermediate results, stay as they are). The student writes `( n0 - n2 ) * n1`; the problem's own
 * numbers are put back before the equation is evaluated. Without it a from-scratch student must learn to copy
 * digits, which a few hundred problems cannot teach.
 *
 * A placeholder the problem has no number for (`n7` in a problem with three) is left as it is, so the equation does
 * not evaluate and the answer scores as wrong, never as an error.
 */
import type { StudentExample } from './student-examples';

export interface NumberMapping {
  /** each distinct value's first spelling in the problem, by placeholder index */
  literals: string[];
  values: number[];
}

/** A number as a problem, an equation or a rationale writes it; not part of a word or a placeholder (`n0`, `5th`). */
const NUMBER = /(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?![A-Za-z_\d])/g;
const PLACEHOLDER = /(?<![A-Za-z_\d])n(\d+)(?![A-Za-z_\d]|\.\d)/g;

export function numberMappingOf(problem: string): NumberMapping {
  const mapping: NumberMapping = { literals: [], values: [] };
  for (const match of problem.matchAll(NUMBER)) {
    const value = Number(match[0]);
    if (!mapping.values.includes(value)) {
      mapping.values.push(value);
      mapping.literals.push(match[0]);
    }
  }
  return mapping;
}

/** Every number of `text` whose value is one of the problem's becomes its placeholder. */
export function mapNumbers(text: string, mapping: NumberMapping): string {
  return text.replace(NUMBER, (literal) => {
    const index = mapping.values.indexOf(Number(literal));
    return index < 0 ? literal : `n${index}`;
  });
}

/** Every placeholder the problem has a number for becomes that number as the problem wrote it. */
export function unmapNumbers(text: string, mapping: NumberMapping): string {
  return text.replace(PLACEHOLDER, (placeholder, index: string) => mapping.literals[Number(index)] ?? placeholder);
}

/** The example with its input, training label and rationales mapped; the gold label stays as it is (it is scored). */
export function mapStudentExample(example: StudentExample): StudentExample {
  const mapping = numberMappingOf(example.input);
  return {
    ...example,
    input: mapNumbers(example.input, mapping),
    label: mapNumbers(example.label, mapping),
    rationales: example.rationales.map((rationale) => ({ ...rationale, text: rationale.text === null ? null : mapNumbers(rationale.text, mapping) })),
  };
}
