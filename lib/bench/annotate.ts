/**
 * annotate: 2000 distinct prompts (task 'bench', split 'train', 4 templates x 500 rows) sent through the scheduler
 * and TeacherClient to the fake OpenAI server, which waits 50 ms before each answer, at concurrency 32.
 * Baseline: the ideal time, 2000 x 50 ms / 32 = 3.125 s (latency only, zero overhead). Target: ratio at most 1.2.
 * The study queried one prompt at a time: ratio 32 on the same server. The server runs on its own thread
 * (fake-server-thread.ts), as a real API runs elsewhere; on a 2-core machine it still shares the CPU with zsd.
 *
 * warm-store: the same 2000 jobs again, with a new StoreRegistry, so the time includes reading the store files
 * from disk. Every job must be a cache hit and nothing may reach the server. Target: under 1 s.
 *
 * Both throw when the run did not do what is measured (fresh or cached counts off, requests sent when warm):
 * a bench that silently measures the wrong thing is worthless.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Workspace } from '../core/paths';
import { TeacherClient } from '../teacher/client';
import type { FakeOpenAIStats } from '../test-support/fake-openai/fake-openai-server';
import { StoreRegistry } from '../teacher/query-jobs';
import { requestKey, studyCompletePrompt, type TeacherRequest } from '../teacher/request-key';
import { runQueries, type QueryJob } from '../teacher/scheduler';
import { startFakeServerThread } from './fake-server-thread';

const MODEL = 'gpt-3.5-turbo';
const TASK = 'bench';
const SPLIT = 'train';
const TEMPLATE_IDS = [1, 2, 3, 4];
const ROWS_PER_TEMPLATE = 500;
const LATENCY_MS = 50;
const CONCURRENCY = 32;
const PRICE = { prompt: 0.0015, completion: 0.002 };

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** A study-sized multiple-choice prompt (about 80 tokens), distinct per template and row. */
function benchPromptValues(templateId: number, index: number): Record<string, string> {
  return {
    question: `Question ${index} for template ${templateId}: where would you most likely find item number ${index * 7 + templateId}?`,
    choice_a: 'kitchen',
    choice_b: 'garage',
    choice_c: 'library',
    choice_d: 'office',
    choice_e: 'garden',
  };
}

function benchUserMessage(templateId: number, values: Record<string, string>): string {
  const options = ['a', 'b', 'c', 'd', 'e'].map((letter) => `${letter})${values[`choice_${letter}`]}`).join('\n');
  return `Template ${templateId}. Given the following options, what do you think is the correct answer to the question below:\n\n${values.question}\n\nOptions:\n${options}\n\nExplain your answer with one sentence.`;
}

/** The bench's jobs, built as buildQueryJobs builds them (request, key, store, row), against `stores`. */
function benchJobs(stores: StoreRegistry): QueryJob[] {
  const jobs: QueryJob[] = [];
  for (const templateId of TEMPLATE_IDS) {
    const store = stores.get(TASK, SPLIT, templateId);
    for (let index = 0; index < ROWS_PER_TEMPLATE; index++) {
      const promptValues = benchPromptValues(templateId, index);
      const request: TeacherRequest = {
        model: MODEL,
        endpoint: 'chat',
        system: '',
        user: benchUserMessage(templateId, promptValues),
        parameters: { temperature: 0 },
      };
      jobs.push({
        request,
        key: requestKey(request),
        store,
        row: { split: SPLIT, idx: index, templateId, promptValues, completePrompt: studyCompletePrompt(request) },
      });
    }
  }
  return jobs;
}

function sameStats(before: FakeOpenAIStats, after: FakeOpenAIStats): boolean {
  return before.requests === after.requests && before.completions === after.completions && before.misses === after.misses;
}

export async function benchAnnotateAndWarmStore(): Promise<Record<string, unknown>[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-bench-annotate-'));
  const workspace: Workspace = { root, readLayers: [], readOnly: false };
  const server = await startFakeServerThread({ latencyMs: LATENCY_MS, fallback: 'echo' });
  try {
    const client = new TeacherClient({ baseURL: server.url, apiKey: 'bench', timeoutMs: 30_000 });
    const options = { concurrency: CONCURRENCY, price: PRICE };

    const coldJobs = benchJobs(new StoreRegistry(workspace));
    const queries = coldJobs.length;
    if (new Set(coldJobs.map((job) => job.key)).size !== queries) throw new Error(`annotate bench: the ${queries} jobs do not have distinct request keys`);
    let start = process.hrtime.bigint();
    const cold = await runQueries(coldJobs, client, options);
    const coldSeconds = seconds(start);
    const served = await server.stats();
    if (cold.progress.fresh !== queries || served.completions !== queries) {
      throw new Error(
        `annotate bench: expected ${queries} fresh answers, got fresh ${cold.progress.fresh}, failed ${cold.progress.failed}, server completions ${served.completions}`,
      );
    }
    const idealSeconds = (queries * LATENCY_MS) / 1000 / CONCURRENCY;

    // A new registry: the stores read their files from disk again, inside the measured time.
    start = process.hrtime.bigint();
    const warm = await runQueries(benchJobs(new StoreRegistry(workspace)), client, options);
    const warmSeconds = seconds(start);
    if (warm.progress.cached !== queries) {
      throw new Error(
        `warm-store bench: expected ${queries} cached answers, got cached ${warm.progress.cached}, fresh ${warm.progress.fresh}, failed ${warm.progress.failed}`,
      );
    }
    const after = await server.stats();
    if (!sameStats(served, after)) {
      throw new Error(`warm-store bench: ${after.requests - served.requests} requests reached the server although every answer was in the store`);
    }

    return [
      {
        bench: 'annotate',
        seconds: round(coldSeconds),
        ideal_seconds: round(idealSeconds),
        ratio_to_ideal: round(coldSeconds / idealSeconds),
        queries,
        concurrency: CONCURRENCY,
        latency_ms: LATENCY_MS,
        queries_per_second: Math.round(queries / coldSeconds),
        target: 1.2,
        study_one_at_a_time_ratio: CONCURRENCY,
      },
      {
        bench: 'warm-store',
        seconds: round(warmSeconds),
        queries,
        cached: warm.progress.cached,
        server_requests: after.requests - served.requests,
        target_seconds: 1,
      },
    ];
  } finally {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
