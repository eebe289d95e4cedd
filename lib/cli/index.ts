import { Command, CommanderError } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { packageRoot } from '../core/paths';
import { redactSecrets } from '../core/secrets';
import { baselinesCommand } from './baselines';
import { evaluateCommand } from './evaluate';
import { demoCommand } from './demo';
import { studyCommand } from './study';
import { replayServerCommand } from './replay-server';
import { experimentCommand } from './experiment';
import { oproCommand } from './opro';
import { generateCommand } from './generate';
import { queryCommand } from './query';
import { checkModelCommand } from './check-model';
import { predictCommand } from './predict';
import { exportCommand } from './export';
import { serveCommand } from './serve';
import { compareCommand } from './compare';
import { trainCommand } from './train';
import { figuresCommand } from './figures';
import { trackCommand } from './track';

/** The `zsd` command: one subcommand per pipeline step. */
export function buildProgram(): Command {
  const program = new Command('zsd')
    .description('Zero-shot step-by-step distillation: evaluate and query teacher LLMs, build training data, train T5 students.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(queryCommand());
  program.addCommand(experimentCommand());
  program.addCommand(oproCommand());
  program.addCommand(evaluateCommand());
  program.addCommand(generateCommand());
  program.addCommand(baselinesCommand());
  program.addCommand(trainCommand());
  program.addCommand(trackCommand());
  program.addCommand(checkModelCommand());
  program.addCommand(predictCommand());
  program.addCommand(exportCommand());
  program.addCommand(serveCommand());
  program.addCommand(compareCommand());
  program.addCommand(figuresCommand());
  program.addCommand(studyCommand());
  program.addCommand(demoCommand());
  program.addCommand(replayServerCommand());
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  redactOutput();
  const program = buildProgram();
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}

/**
 * Whatever zsd prints passes core/secrets.ts's filter: an API key a server quotes back (in an error, a stack, a
 * progress line) reaches neither the terminal nor a log. One place, for every command.
 */
function redactOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(typeof chunk === 'string' ? redactSecrets(chunk) : chunk instanceof Uint8Array ? redactBytes(chunk) : chunk, ...rest)) as typeof stream.write;
  }
}

function redactBytes(chunk: Uint8Array): Uint8Array {
  const text = Buffer.from(chunk).toString('utf8');
  const redacted = redactSecrets(text);
  return redacted === text ? chunk : Buffer.from(redacted, 'utf8');
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version exit 0; commander has printed its own message otherwise.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (isZsdError(error)) {
    process.stderr.write(`zsd: error: ${error.message}\n`);
    return error.kind === 'usage' ? 2 : 1;
  }
  process.stderr.write(`zsd: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return 70;
}

function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}
