import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError, ZsdError } from '../core/errors';
import { resolveDataRoot, resolveWorkspace } from '../core/paths';
import { getTask } from '../data/tasks';
import { loadTemplates } from '../prompts/templates';
import { browserStudentEntry, bundleForBrowser, wasmBinariesDirectory } from '../serve/browser-bundle';
import type { MicroBatcherStats } from '../serve/micro-batcher';
import { DEFAULT_HOST, startStudentServer, type StudentPage, type StudentServer } from '../serve/server';
import { describePreprocessing, studentModelDetails, StudentAnswerer } from '../serve/student-answerer';
import { templateInputReader, type TemplateInputReader } from '../serve/template-input';
import { initBackend, type BackendPreference } from '../student/backend';
import { PREPROCESSING_FILE } from '../student/checkpoints';
import { CONFIG_FILE, WEIGHTS_FILE } from '../student/t5-weights';
import { ignoreEvents, type OnPipelineEvent } from './events';

/**
 * A trained student behind OpenAI's API (`zsd serve`): /v1/chat/completions, /v1/completions, /v1/models, with
 * micro-batching; optionally a page where the student answers in the browser. Runs until `stop()`.
 */
export interface ServeStudentOptions {
  /** a training run, its checkpoints directory (the best checkpoint, else the latest) or one checkpoint */
  model: string;
  /** the model name clients send (default zsd-student) */
  name?: string;
  /** default: loopback */
  host?: string;
  /** 0: any free port (default 8000) */
  port?: number;
  /** require "Authorization: Bearer <key>" */
  apiKey?: string;
  maxBatchSize?: number;
  batchWaitMs?: number;
  maxQueue?: number;
  maxInputLength?: number;
  maxNewTokens?: number;
  numBeams?: number;
  tokenizer?: string;
  data?: string;
  /** whose prompt templates (else the study's) the task input is read out of */
  workspace?: string;
  /** read the task input back out of a user message one of the task's templates rendered (default true) */
  templates?: boolean;
  /** also serve the in-browser page at / */
  ui?: boolean;
  /** one info event per request */
  log?: boolean;
  backend?: BackendPreference;
  onEvent?: OnPipelineEvent;
}

export const SERVE_STUDENT_DEFAULTS = {
  name: 'zsd-student',
  host: DEFAULT_HOST,
  port: 8000,
  maxBatchSize: 16,
  batchWaitMs: 5,
  maxQueue: 256,
  maxInputLength: 512,
  maxNewTokens: 64,
  numBeams: 1,
  backend: 'auto',
} as const;

export interface ServedStudent {
  server: StudentServer;
  /** the checkpoint served */
  checkpoint: string;
  /** Stops accepting, answers what is queued or running, closes, and frees the model; the server's final counts. */
  stop(): Promise<MicroBatcherStats>;
}

export async function serveStudent(options: ServeStudentOptions): Promise<ServedStudent> {
  const settings = {
    ...SERVE_STUDENT_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
  } as ServeStudentOptions & typeof SERVE_STUDENT_DEFAULTS;
  const onEvent = options.onEvent ?? ignoreEvents;
  const info = (message: string) => onEvent({ kind: 'info', message });
  const backend = await initBackend({ prefer: settings.backend });
  const dataRoot = resolveDataRoot(options.data);
  const answerer = StudentAnswerer.load(options.model, {
    maxInputTokens: settings.maxInputLength,
    numBeams: settings.numBeams,
    tokenizerFile: options.tokenizer,
    dataRoot,
  });
  let server: StudentServer;
  let templates: ReturnType<typeof taskTemplates> = null;
  try {
    templates = options.templates === false ? null : taskTemplates(answerer, dataRoot, options.workspace);
    server = await startStudentServer({
      answerer,
      modelId: settings.name,
      host: settings.host,
      port: settings.port,
      apiKey: options.apiKey,
      maxBatchSize: settings.maxBatchSize,
      batchWaitMs: settings.batchWaitMs,
      maxQueue: settings.maxQueue,
      maxNewTokens: settings.maxNewTokens,
      modelDetails: studentModelDetails(answerer),
      log: options.log ? info : undefined,
      ui: options.ui ? studentPage(answerer, settings.maxInputLength) : undefined,
      templates: templates?.reader,
    });
  } catch (error) {
    answerer.dispose();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES')
      throw new ZsdError('usage', `cannot listen on ${settings.host}:${settings.port} (${code}); pick another --port`);
    throw error;
  }
  info(`backend: ${backend.description}`);
  info(`student: ${answerer.checkpoint} (${answerer.parameterCount().toLocaleString('en-US')} parameters; ${describePreprocessing(answerer)})`);
  if (!isLoopback(settings.host) && options.apiKey === undefined)
    onEvent({ kind: 'warning', message: `listening on ${settings.host} without --api-key: anyone who can reach it can use the student` });
  if (templates)
    info(`prompt templates: a user message that one of ${templates.file}'s ${templates.count} templates rendered is read back into the task input`);
  info(`batching: up to ${settings.maxBatchSize} requests per generation call, ${settings.batchWaitMs} ms wait; queue of ${settings.maxQueue}`);
  if (options.ui) info(`page: ${server.baseUrl.replace(/\/v1$/, '/')} (the student runs in the browser)`);
  const running = server;
  return {
    server,
    checkpoint: answerer.checkpoint,
    stop: async () => {
      await running.close();
      answerer.dispose();
      return running.stats();
    },
  };
}

/** The prompt templates of the checkpoint's task (preprocessing.json), where it names one and they can be found. */
function taskTemplates(
  answerer: StudentAnswerer,
  dataRoot: string,
  workspaceFlag: string | undefined,
): { reader: TemplateInputReader; file: string; count: number } | null {
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
  if (!fs.existsSync(file(WEIGHTS_FILE)))
    throw new ZsdError('usage', `--ui needs the checkpoint's weights in one ${WEIGHTS_FILE}; ${answerer.checkpoint} has none (sharded?)`);
  const files: Record<string, string> = { 'config.json': file(CONFIG_FILE), 'model.safetensors': file(WEIGHTS_FILE), 'tokenizer.json': answerer.tokenizerFile };
  if (fs.existsSync(file(PREPROCESSING_FILE))) files['preprocessing.json'] = file(PREPROCESSING_FILE);
  return {
    files,
    bundle: () => bundleForBrowser(browserStudentEntry(), 'zsdBrowserStudent'),
    wasmDirectory: wasmBinariesDirectory(),
    maxInputTokens,
    explain: answerer.canExplain,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
