import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { packageRoot } from '../core/paths';
import { readYamlFile } from '../core/yaml';

/**
 * What tokens cost: a price table (YAML, dollars per 1K prompt and completion tokens per model), the one shipped
 * in lib/teacher/prices.yaml overlaid by `<workspace>/prices.yaml`, or a `--price` flag. A model without a price
 * is an error (a run whose cost cannot be told is not started), unless the server is free (`--price 0,0`).
 */

export interface ModelPrice {
  /** Dollars per 1,000 prompt tokens. */
  prompt: number;
  /** Dollars per 1,000 completion tokens. */
  completion: number;
}

const priceSchema = z.record(z.string(), z.strictObject({ prompt: z.number().nonnegative(), completion: z.number().nonnegative() }));

export function loadPriceTable(workspaceRoot?: string): Map<string, ModelPrice> {
  const table = new Map<string, ModelPrice>();
  const files = [path.join(packageRoot(), 'lib', 'teacher', 'prices.yaml')];
  if (workspaceRoot && fs.existsSync(path.join(workspaceRoot, 'prices.yaml'))) files.push(path.join(workspaceRoot, 'prices.yaml'));
  for (const file of files) {
    const { document } = readYamlFile(file);
    const parsed = priceSchema.safeParse(document.toJS() ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ZsdError('invalid-file', `${issue.message}; expected "<model>: {prompt: <$ per 1K>, completion: <$ per 1K>}"`, {
        file,
        key: issue.path.join('.'),
      });
    }
    for (const [model, price] of Object.entries(parsed.data)) table.set(model, price);
  }
  return table;
}

/** `--price 0.0015,0.002` */
export function parsePriceFlag(value: string): ModelPrice {
  const parts = value.split(',').map((part) => Number(part.trim()));
  if (parts.length !== 2 || parts.some((part) => !Number.isFinite(part) || part < 0)) {
    throw new ZsdError('usage', `--price expects "PROMPT,COMPLETION" in dollars per 1K tokens, e.g. 0.0015,0.002; got "${value}"`);
  }
  return { prompt: parts[0], completion: parts[1] };
}

export function priceFor(model: string, table: ReadonlyMap<string, ModelPrice>, override?: ModelPrice): ModelPrice {
  if (override) return override;
  const price = table.get(model);
  if (!price) {
    throw new ZsdError(
      'usage',
      `no price for model "${model}": add it to prices.yaml in the workspace, or pass --price PROMPT,COMPLETION (dollars per 1K tokens; 0,0 for a free local server)`,
    );
  }
  return price;
}

export function costOf(usage: { prompt_tokens: number; completion_tokens: number }, price: ModelPrice, batch = false): number {
  const dollars = (usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion) / 1000;
  return batch ? dollars / 2 : dollars;
}
