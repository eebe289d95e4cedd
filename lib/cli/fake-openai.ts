import { Command, InvalidArgumentError } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { resolveDataRoot } from '../core/paths';
import { parseFakeScript, parseFaultSpec, startFakeOpenAI, type FakeScript } from '../teacher/fake-openai-server';

/** `zsd fake-openai`: the loopback OpenAI-compatible server the tests, benchmarks and demo use. */

interface FakeOpenAIOptions {
  port: number;
  replay?: string[];
  latency: number;
  faults?: string;
  fallback: 'error' | 'echo';
  data?: string;
  script?: string;
}

export function fakeOpenAICommand(): Command {
  return new Command('fake-openai')
    .description('Serve an OpenAI-compatible API on 127.0.0.1 that answers recorded prompts (query-results/ of the replay workspaces), optionally with injected faults')
    .option('--port <port>', 'port (0: any free port)', (value) => integer(value, '--port', 0, 65535), 8787)
    .option('--replay <dir...>', 'workspaces whose query-results/ are replayed (default: the recorded study, <data>/zero-shot)')
    .option('--latency <ms>', 'delay added to each completion', (value) => integer(value, '--latency', 0, 600_000), 0)
    .option('--faults <spec>', 'faults to inject, e.g. rate-limit:0.1,server-error:0.05,hang:0.01,seed:7', (value) => {
      parseFaultSpec(value);
      return value;
    })
    .option('--fallback <mode>', 'unknown prompts: error (404) or echo (a made-up answer)', 'error')
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--script <file>', 'JSON script of optimiser answers and a scorer whose accuracy depends on the instruction (OPRO tests; see fake-openai-server.ts)')
    .action(async (options: FakeOpenAIOptions) => {
      const replay = options.replay ?? [path.join(resolveDataRoot(options.data), 'zero-shot')];
      const script = options.script === undefined ? undefined : readScript(options.script, options.data);
      const server = await startFakeOpenAI({ port: options.port, replay, latencyMs: options.latency, faults: options.faults, fallback: options.fallback, script });
      process.stdout.write(`fake OpenAI server on ${server.url} (replaying ${replay.join(', ')}); stats at ${server.url.replace(/\/v1$/, '')}/fake/stats; Ctrl-C stops it\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

function integer(value: string, flag: string, minimum: number, maximum: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < minimum || number > maximum) {
    throw new InvalidArgumentError(`${flag} must be an integer from ${minimum} to ${maximum}, got "${value}"`);
  }
  return number;
}

function readScript(file: string, data: string | undefined): FakeScript {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read the script as JSON: ${(error as Error).message}`, { file });
  }
  const script = parseFakeScript(value, file);
  // The scorer reads its rows from the same data root as the rest of the command.
  if (script.scorer && script.scorer.dataRoot === undefined) script.scorer = { ...script.scorer, dataRoot: resolveDataRoot(data) };
  return script;
}
