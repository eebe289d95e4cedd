import { ZsdError, type ErrorLocation } from '../core/errors';

/**
 * Python `str.format` with named fields, as the study (through LangChain) rendered its templates.
 * `{name}` is replaced, `{{` and `}}` are literal braces. Note that YAML single-quoted strings keep `\n`
 * as a backslash and an "n": the study sent those two characters to the teacher, and so does zsd, so that
 * the recorded prompts are reproduced byte for byte (and stay cache hits).
 */
export function renderPythonFormat(template: string, values: Readonly<Record<string, string>>, where: ErrorLocation): string {
  let output = '';
  let index = 0;
  while (index < template.length) {
    const character = template[index];
    if (character === '{') {
      if (template[index + 1] === '{') {
        output += '{';
        index += 2;
        continue;
      }
      const end = template.indexOf('}', index);
      if (end < 0) throw new ZsdError('invalid-template', `unmatched "{" at character ${index}; write "{{" for a literal brace`, where);
      const field = template.slice(index + 1, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) {
        throw new ZsdError('invalid-template', `placeholder "{${field}}" is not a plain name; expected {name} or "{{" for a literal brace`, where);
      }
      const value = values[field];
      if (value === undefined) throw missingPlaceholder(field, values, where);
      output += value;
      index = end + 1;
    } else if (character === '}') {
      if (template[index + 1] !== '}') throw new ZsdError('invalid-template', `single "}" at character ${index}; write "}}" for a literal brace`, where);
      output += '}';
      index += 2;
    } else {
      output += character;
      index++;
    }
  }
  return output;
}

/** The `{name}` placeholders a template string uses, in order of first use. */
export function placeholdersOf(template: string): string[] {
  const names: string[] = [];
  for (const match of template.replace(/\{\{|\}\}/g, '').matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    if (!names.includes(match[1])) names.push(match[1]);
  }
  return names;
}

export function missingPlaceholder(field: string, values: Readonly<Record<string, string>>, where: ErrorLocation): ZsdError {
  const available = Object.keys(values);
  return new ZsdError(
    'invalid-template',
    `placeholder {${field}} has no value; this row provides ${available.length > 0 ? available.map((name) => `{${name}}`).join(', ') : 'no values'}`,
    where,
  );
}
