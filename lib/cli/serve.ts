import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { isZsdError, ZsdError } from '../core/errors';
import { resolveDataRoot, resolveWorkspace } from '../core/paths';
import { getTask } from '../data/tasks';
import { loadTemplates } from '../prompts/templates';
import { templateInputReader, type TemplateInputReader } from '../serve/template-input';
import { browserStudentEntry, bundleForBrowser, wasmBinariesDirectory } from '../serve/browser-bundle';
import { DEFAULT_HOST, startStudentServer, type StudentPage } from '../serve/server';
import { PREPROCESSING_FILE } from '../student/checkpoints';
import { CONFIG_FILE, WEIGHTS_FILE } from '../student/t5-weights';
import { describePreprocessing, studentModelDetails, StudentAnswerer } from '../serve/student-answerer';
import { initBackend, type BackendPreference } from '../student/backend';
import { backendOption } from './check-model';
import { numberFlag } from './teacher-run';

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

/** `zsd serve`: a trained student behind OpenAI's API (lib/serve), until SIGINT or SIGTERM. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve a trained student with an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models) until Ctrl-C or SIGTERM')
    .requiredOption('--model <dir>', 'a training run, its checkpoints directory (the best checkpoint, else the latest) or one checkpoint')
    .option('--name <id>', 'the model name clients send', 'zsd-student')
    .option('--host <address>', 'address to listen on (loopback by default; anything else should have --api-key)', DEFAULT_HOST)
    .option('--port <n>', 'port (0: any free one)', numberFlag('--port', { min: 0, max: 65535, integer: true }), 8000)
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" (default: $ZSD_SERVE_API_KEY; prefer it: flags show in process lists)')
    .option('--max-batch-size <n>', 'concurrent requests answered by one generation call (1: no batching)', numberFlag('--max-batch-size', { min: 1, max: 1024, integer: true }), 16)
    .option('--batch-wait-ms <ms>', 'how long a request waits for others to join its batch', numberFlag('--batch-wait-ms', { min: 0, max: 10_000 }), 5)
    .option('--max-queue <n>', 'requests waiting before new ones get 429 with Retry-After', numberFlag('--max-queue', { min: 0, integer: true }), 256)
    .option('--max-input-length <n>', 'longest input in tokens (task prefix and </s> included); longer ones get 400 context_length_exceeded', numberFlag('--max-input-length', { min: 2, integer: true }), 512)
    .option('--max-new-tokens <n>', 'tokens generated at most per answer (label, and rationale in explain mode); a request\'s max_tokens can lower it', numberFlag('--max-new-tokens', { min: 1, integer: true }), 64)
    .option('--num-beams <n>', 'beam search width (1: greedy)', numberFlag('--num-beams', { min: 1, max: 64, integer: true }), 1)
    .option('--tokenizer <file>', 'tokenizer.json (default: the checkpoint\'s, else <data>/tokenizers/t5/tokenizer.json)')
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', 'workspace whose prompt templates (else the study\'s) the task input is read out of (default: current directory)')
    .option('--no-templates', 'take every user message as the task input, even one a prompt template of the task rendered')
    .option('--log', 'one line per request on stderr')
    .option('--ui', 'also serve a page at / where the student answers in the browser (TensorFlow.js WebAssembly), beside the server\'s answer')
    .addOption(backendOption())
    .action((options: ServeOptions) => runServe(options));
}

export async function runServe(options: ServeOptions): Promise<void> {
  const apiKey = options.apiKey ?? (process.env.ZSD_SERVE_API_KEY || undefined);
  const backend = await initBackend({ prefer: options.backend });
  const dataRoot = resolveDataRoot(options.data);
  const answerer = StudentAnswerer.load(options.model, { maxInputTokens: options.maxInputLength, numBeams: options.numBeams, tokenizerFile: options.tokenizer, dataRoot });
  const templates = options.templates ? taskTemplates(answerer, dataRoot, options.workspace) : null;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let server;
  try {
    server = await startStudentServer({
      answerer,
      modelId: options.name,
      host: options.host,
      port: options.port,
      apiKey,
      maxBatchSize: options.maxBatchSize,
      batchWaitMs: options.batchWaitMs,
      maxQueue: options.maxQueue,
      maxNewTokens: options.maxNewTokens,
      modelDetails: studentModelDetails(answerer),
      log: options.log ? log : undefined,
      ui: options.ui ? studentPage(answerer, options.maxInputLength) : undefined,
      templates: templates?.reader,
    });
  } catch (error) {
    answerer.dispose();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new ZsdError('usage', `cannot listen on ${options.host}:${options.port} (${code}); pick another --port`);
    throw error;
  }
  log(`backend: ${backend.description}`);
  log(`student: ${answerer.checkpoint} (${answerer.parameterCount().toLocaleString('en-US')} parameters; ${describePreprocessing(answerer)})`);
  if (!isLoopback(options.host) && apiKey === undefined) log(`warning: listening on ${options.host} without --api-key: anyone who can reach it can use the student`);
  if (templates) log(`prompt templates: a user message that one of ${templates.file}'s ${templates.count} templates rendered is read back into the task input`);
  log(`batching: up to ${options.maxBatchSize} requests per generation call, ${options.batchWaitMs} ms wait; queue of ${options.maxQueue}`);
  if (options.ui) log(`page: ${server.baseUrl.replace(/\/v1$/, '/')} (the student runs in the browser)`);
  log(`serving "${options.name}" at ${server.baseUrl} (Ctrl-C to stop)`);

  const running = server;
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) process.exit(130);
      const { queued, running: inBatch } = running.stats();
      log(`${signal}: no new requests; ${queued + inBatch > 0 ? `answering the ${queued + inBatch} queued or running first` : 'nothing left to answer'} (again to quit at once)`);
      void running.close().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  answerer.dispose();
  const stats = server.stats();
  log(`stopped: ${stats.answered} answers in ${stats.batches} generation calls (largest batch ${stats.largestBatch}); ${stats.refused} refused (queue full), ${stats.abandoned} abandoned by their clients`);
}

/** The prompt templates of the checkpoint's task (preprocessing.json), where it names one and they can be found. */
function taskTemplates(answerer: StudentAnswerer, dataRoot: string, workspaceFlag: string | undefined): { reader: TemplateInputReader; file: string; count: number } | null {
  const name = answerer.preprocessing?.task;
  if (name === undefined) return null;
  const workspace = resolveWorkspace(dataRoot, workspaceFlag);
  try {
    const task = getTask(name, [dataRoot, workspace.root]);
    const set = loadTemplates(workspace, name);
    return { reader: templateInputReader(task, set), file: set.file, count: set.templates.size };
  } catch (error) {
    if (isZsdError(error) && error.kind === 'not-found') return null;
    throw error;
  }
}

/** The files the page's student fetches; a sharded checkpoint cannot go to the browser. */
function studentPage(answerer: StudentAnswerer, maxInputTokens: number): StudentPage {
  const file = (name: string) => path.join(answerer.checkpoint, name);
  if (!fs.existsSync(file(WEIGHTS_FILE))) throw new ZsdError('usage', `--ui needs the checkpoint's weights in one ${WEIGHTS_FILE}; ${answerer.checkpoint} has none (sharded?)`);
  const files: Record<string, string> = { 'config.json': file(CONFIG_FILE), 'model.safetensors': file(WEIGHTS_FILE), 'tokenizer.json': answerer.tokenizerFile };
  if (fs.existsSync(file(PREPROCESSING_FILE))) files['preprocessing.json'] = file(PREPROCESSING_FILE);
  return { files, bundle: () => bundleForBrowser(browserStudentEntry(), 'zsdBrowserStudent'), wasmDirectory: wasmBinariesDirectory(), maxInputTokens, explain: answerer.canExplain };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
