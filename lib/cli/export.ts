import * as path from 'node:path';
import { Command, Option } from 'commander';
import { exportStudent } from '../pipeline/export-student';

interface ExportOptions {
  model: string;
  format: 'onnx';
  out: string;
  quantize?: boolean;
  tokenizer?: string;
  prefix?: string;
  data?: string;
  overwrite?: boolean;
  allowNumberMapping?: boolean;
}

/** `zsd export` (lib/pipeline/export-student.ts): the folder written, its files, and how to run it with transformers.js. */
export function exportCommand(): Command {
  const command = new Command('export')
    .description('Export a T5 checkpoint for JavaScript: ONNX graphs and tokenizer in the layout transformers.js loads (pipeline("text2text-generation", DIR))')
    .requiredOption('--model <dir>', 'checkpoint directory (config.json + model.safetensors)')
    .addOption(new Option('--format <format>', 'what to write').choices(['onnx']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'folder to write (new or empty, unless --overwrite)')
    .option('--quantize', 'also write int8-weight graphs (onnx/*_quantized.onnx, transformers.js dtype "q8", its default in browsers)')
    .option('--tokenizer <file>', "tokenizer.json (default: the checkpoint's, else <data>/tokenizers/t5/tokenizer.json)")
    .option(
      '--prefix <text>',
      'task prefix transformers.js puts before every input (config.json "prefix"; default as zsd predict: the checkpoint\'s preprocessing.json, else "predict: ")',
    )
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--overwrite', 'replace the contents of a non-empty --out')
    .option('--allow-number-mapping', 'export a student trained with number mapping: your code then maps numbers (n0, n1, ...) as zsd predict does');
  return command.action((options: ExportOptions) => runExport(options));
}

export function runExport(options: ExportOptions): void {
  const result = exportStudent(options);
  const lines = [`exported ${path.resolve(options.model)} to ${result.out}`];
  for (const file of result.files) lines.push(`  ${file.path.padEnd(42)} ${formatBytes(file.bytes)}`);
  lines.push(result.prefix === '' ? '  inputs get no task prefix' : `  inputs get the task prefix ${JSON.stringify(result.prefix)} (config.json "prefix")`);
  if (result.numberMapping) lines.push('  number mapping: map the numbers of each input to n0, n1, ... and back in the answer yourself (zsd predict does it)');
  lines.push(
    'run it with transformers.js:',
    "  import { pipeline } from '@huggingface/transformers';",
    `  const generator = await pipeline('text2text-generation', ${JSON.stringify(result.out)});`,
    "  console.log((await generator('your input', { max_new_tokens: 64 }))[0].generated_text);",
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

function formatBytes(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}
