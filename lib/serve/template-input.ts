/**
 * The task input inside a teacher prompt: `zsd query --templates N` sends the template's rendering of a row (svamp's
 * template 2 adds "Go step by step..." after the problem; cqa's and anli's lay out the question, the choices or the
 * premise and hypothesis in their own words). Given the task's templates, a user message that one of them renders
 * is read back into the row's values, and the student gets `studentInput` of them, the input it was trained on.
 * A message no template renders is the input as it is.
 *
 * Each template's user message becomes an anchored pattern: its literal text, and a lazy group per placeholder (a
 * placeholder used twice must match the same text). Where several templates match, the one with the most literal
 * text wins (template `{question}` matches anything; it is the last resort).
 */
import type { ExampleRow } from '../data/datasets';
import type { TaskDefinition } from '../data/tasks';
import { placeholdersOf, renderPythonFormat } from '../prompts/python-format';
import type { PromptTemplate, TemplateSet } from '../prompts/templates';
import { studentInput } from '../student/student-examples';

interface TemplatePattern {
  id: number;
  regex: RegExp;
  names: string[];
  literalLength: number;
}

export interface TemplateInputReader {
  /** The student's input for a user message, and the template it was read with (null: taken as it is). */
  read(message: string): { input: string; templateId: number | null };
}

export function templateInputReader(task: Pick<TaskDefinition, 'kind'>, templates: TemplateSet): TemplateInputReader {
  const patterns = [...templates.templates.values()].map(patternOf).sort((a, b) => b.literalLength - a.literalLength || a.id - b.id);
  return {
    read(message) {
      for (const pattern of patterns) {
        const match = pattern.regex.exec(message);
        if (!match) continue;
        const values: Record<string, string> = {};
        pattern.names.forEach((name, index) => (values[name] = match[index + 1]));
        try {
          return { input: studentInput(task, { promptValues: values } as unknown as ExampleRow), templateId: pattern.id };
        } catch {
          continue; // a template without the fields this task's input is made of
        }
      }
      return { input: message, templateId: null };
    },
  };
}

function patternOf(template: PromptTemplate): TemplatePattern {
  const names = placeholdersOf(template.userMessage);
  // render with markers that cannot occur in a template, then turn the markers into groups
  const markers = Object.fromEntries(names.map((name, index) => [name, `\u0000${index}\u0000`]));
  const rendered = renderPythonFormat(template.userMessage, markers, { file: template.file, key: `templates.${template.id}.user_message` });
  const seen = new Set<number>();
  let literalLength = 0;
  const source = rendered
    .split(/(\u0000\d+\u0000)/)
    .map((part) => {
      const marker = /^\u0000(\d+)\u0000$/.exec(part);
      if (!marker) {
        literalLength += part.length;
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      const index = Number(marker[1]);
      if (seen.has(index)) return `\\${index + 1}`;
      seen.add(index);
      return '([\\s\\S]*?)';
    })
    .join('');
  return { id: template.id, regex: new RegExp(`^${source}$`), names, literalLength };
}
