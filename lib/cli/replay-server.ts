import { Command, InvalidArgumentError } from 'commander';
import * as path from 'node:path';
import { resolveDataRoot } from '../core/paths';
import { startReplayServer } from '../teacher/replay-server';

/** `zsd replay-server` (alias `fake-openai`): the recorded study's answers on an OpenAI-compatible loopback server. */

interface ReplayServerFlags {
  port: number;
  replay?: string[];
  data?: string;
}

export function replayServerCommand(): Command {
  return new Command('replay-server')
    .alias('fake-openai')
    .description(
      'Serve an OpenAI-compatible API on 127.0.0.1 that answers recorded prompts (query-results/ of the replay workspaces), so the teacher side runs offline',
    )
    .option('--port <port>', 'port (0: any free port)', (value) => integer(value, '--port', 0, 65535), 8787)
    .option('--replay <dir...>', 'workspaces whose query-results/ are replayed (default: the recorded study, <data>/zero-shot)')
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .action(async (flags: ReplayServerFlags) => {
      const replay = flags.replay ?? [path.join(resolveDataRoot(flags.data), 'zero-shot')];
      const server = await startReplayServer({ port: flags.port, replay });
      process.stdout.write(`replay server on ${server.url} (replaying ${replay.join(', ')}); Ctrl-C stops it\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          const { completions, misses } = server.stats();
          process.stdout.write(`answered ${completions} recorded prompts, ${misses} without a recording\n`);
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
