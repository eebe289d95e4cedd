import { Command } from 'commander';
import { eventLine } from '../pipeline/event-lines';
import { serveStudent, SERVE_STUDENT_DEFAULTS as D } from '../pipeline/serve-student';
import type { BackendPreference } from '../student/backend';
import { backendOption } from './check-model';
import { numberFlag } from './options';

interface ServeOptions {
  model: string;
  name: string;
  host: string;
  port: number;
  apiKey?: string;
  maxBatchSize: number;
  batchWaitMs: number;
  maxQueue: number;
  maxInputLength: number;
  maxNewTokens: number;
  numBeams: number;
  tokenizer?: string;
  data?: string;
  backend: BackendPreference;
  log?: boolean;
  ui?: boolean;
  workspace?: string;
  templates: boolean;
}

/** `zsd serve`: a trained student behind OpenAI's API (lib/pipeline/serve-student.ts), until SIGINT or SIGTERM. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve a trained student with an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models) until Ctrl-C or SIGTERM')
    .requiredOption('--model <dir>', 'a training run, its checkpoints directory (the best checkpoint, else the latest) or one checkpoint')
    .option('--name <id>', 'the model name clients send', D.name)
    .option('--host <address>', 'address to listen on (loopback by default; anything else should have --api-key)', D.host)
    .option('--port <n>', 'port (0: any free one)', numberFlag('--port', { min: 0, max: 65535, integer: true }), D.port)
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" (default: $ZSD_SERVE_API_KEY; prefer it: flags show in process lists)')
    .option(
      '--max-batch-size <n>',
      'concurrent requests answered by one generation call (1: no batching)',
      numberFlag('--max-batch-size', { min: 1, max: 1024, integer: true }),
      D.maxBatchSize,
    )
    .option(
      '--batch-wait-ms <ms>',
      'how long a request waits for others to join its batch',
      numberFlag('--batch-wait-ms', { min: 0, max: 10_000 }),
      D.batchWaitMs,
    )
    .option('--max-queue <n>', 'requests waiting before new ones get 429 with Retry-After', numberFlag('--max-queue', { min: 0, integer: true }), D.maxQueue)
    .option(
      '--max-input-length <n>',
      'longest input in tokens (task prefix and </s> included); longer ones get 400 context_length_exceeded',
      numberFlag('--max-input-length', { min: 2, integer: true }),
      D.maxInputLength,
    )
    .option(
      '--max-new-tokens <n>',
      "tokens generated at most per answer (label, and rationale in explain mode); a request's max_tokens can lower it",
      numberFlag('--max-new-tokens', { min: 1, integer: true }),
      D.maxNewTokens,
    )
    .option('--num-beams <n>', 'beam search width (1: greedy)', numberFlag('--num-beams', { min: 1, max: 64, integer: true }), D.numBeams)
    .option('--tokenizer <file>', "tokenizer.json (default: the checkpoint's, else <data>/tokenizers/t5/tokenizer.json)")
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', "workspace whose prompt templates (else the study's) the task input is read out of (default: current directory)")
    .option('--no-templates', 'take every user message as the task input, even one a prompt template of the task rendered')
    .option('--log', 'one line per request on stderr')
    .option('--ui', "also serve a page at / where the student answers in the browser (TensorFlow.js WebAssembly), beside the server's answer")
    .addOption(backendOption())
    .action((options: ServeOptions) => runServe(options));
}

export async function runServe(options: ServeOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const apiKey = options.apiKey ?? (process.env.ZSD_SERVE_API_KEY || undefined);
  const served = await serveStudent({ ...options, apiKey, onEvent: (event) => log(eventLine(event)) });
  log(`serving "${options.name}" at ${served.server.baseUrl} (Ctrl-C to stop)`);
  const stats = await new Promise<Awaited<ReturnType<typeof served.stop>>>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) process.exit(130);
      const { queued, running: inBatch } = served.server.stats();
      log(
        `${signal}: no new requests; ${queued + inBatch > 0 ? `answering the ${queued + inBatch} queued or running first` : 'nothing left to answer'} (again to quit at once)`,
      );
      void served.stop().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log(
    `stopped: ${stats.answered} answers in ${stats.batches} generation calls (largest batch ${stats.largestBatch}); ${stats.refused} refused (queue full), ${stats.abandoned} abandoned by their clients`,
  );
}
