import { InvalidArgumentError, type Command } from 'commander';
import type { RootOptions } from '../pipeline/roots';

/** Options every command shares: where the data is and where to work (the pipeline's roots, as flags). */
export type CommonOptions = RootOptions;

export { resolveRoots } from '../pipeline/roots';

/** Only the roots of a command's options, for a pipeline step. */
export function rootOptionsOf(options: CommonOptions): RootOptions {
  return { data: options.data, workspace: options.workspace, recorded: options.recorded };
}

export function addCommonOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data root with datasets/ and the recorded study (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', 'workspace for templates, mixes, query results, metadata and results (default: current directory)')
    .option('--no-recorded', "do not use the recorded study's responses (<data>/zero-shot/query-results) as answers; its templates and mixes are still read");
}

/** `--templates 1,2,10` */
export function parseIdList(value: string): number[] {
  const ids = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (ids.length === 0 || !ids.every((id) => /^\d+$/.test(id))) {
    throw new InvalidArgumentError(`expected comma-separated template ids such as 1,2,10, got "${value}"`);
  }
  return ids.map(Number);
}

/** `--splits train,test` */
export function parseNameList(value: string): string[] {
  const names = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (names.length === 0 || !names.every((name) => /^[A-Za-z0-9_.-]+$/.test(name))) {
    throw new InvalidArgumentError(`expected comma-separated names such as train,test, got "${value}"`);
  }
  return [...new Set(names)];
}

/** A number flag, range-checked: `--lr 3e-3`; the message names the flag, the range and what was given. */
export function numberFlag(name: string, range: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean; exclusiveMax?: boolean }) {
  return (value: string): number => {
    const number = Number(value);
    const wanted = `${range.integer ? 'an integer' : 'a number'}${describeRange(range)}`;
    if (value.trim() === '' || !Number.isFinite(number)) throw new InvalidArgumentError(`${name} expects ${wanted}, got "${value}"`);
    if (range.integer && !Number.isInteger(number)) throw new InvalidArgumentError(`${name} expects ${wanted}, got "${value}"`);
    if (range.min !== undefined && (range.exclusiveMin ? number <= range.min : number < range.min))
      throw new InvalidArgumentError(`${name} expects ${wanted}, got ${value}`);
    if (range.max !== undefined && (range.exclusiveMax ? number >= range.max : number > range.max))
      throw new InvalidArgumentError(`${name} expects ${wanted}, got ${value}`);
    return number;
  };
}

function describeRange(range: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean }): string {
  if (range.min !== undefined && range.max !== undefined)
    return ` in ${range.exclusiveMin ? '(' : '['}${range.min}, ${range.max}${range.exclusiveMax ? ')' : ']'}`;
  if (range.min !== undefined) return range.exclusiveMin ? ` above ${range.min}` : ` of at least ${range.min}`;
  if (range.max !== undefined) return ` of at most ${range.max}`;
  return '';
}
