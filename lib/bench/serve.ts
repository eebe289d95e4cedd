/**
 * serve: requests per second and latency (p50, p95) of `zsd serve` at 1, 8 and 32 concurrent clients, with
 * batching on (up to 32 requests per generation call, 5 ms wait) and off (--max-batch-size 1, the baseline measured
 * in the same run). Each client sends the next svamp test problem as a chat request as soon as its previous answer
 * arrives (closed loop), over loopback HTTP, to a server in this process.
 *
 * The student: ZSD_BENCH_SERVE_MODEL (a run or checkpoint, e.g. the demo's: results/svamp/zsd-scratch-number-mapping-task-vocab/...)
 * when set; else a random-init student of the demo's shape (preset zsd-scratch: d_model 128, 2 + 2 layers) with the
 * full T5 vocabulary (32128: a larger lm_head than the demo's task vocabulary) and svamp's preprocessing (predict
 * prefix, number mapping). Random weights rarely write </s>, so every answer is the full ZSD_BENCH_SERVE_TOKENS
 * (default 16) tokens: about the length of a demo student's equation. ZSD_BENCH_SERVE_REQUESTS (default 64) requests
 * per measurement, after 4 warm-up requests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveDataRoot, writeFileAtomic } from '../core/paths';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { percentile } from '../serve/compare';
import { startStudentServer } from '../serve/server';
import { StudentAnswerer } from '../serve/student-answerer';
import { initBackend } from '../student/backend';
import { PREPROCESSING_FILE } from '../student/checkpoints';
import { presetConfig } from '../student/t5-config';
import { T5Model } from '../student/t5-model';
import { saveT5Model } from '../student/t5-weights';
import { studentInput } from '../student/student-examples';

export const SERVE_CONCURRENCY = [1, 8, 32] as const;
const BATCHED = { maxBatchSize: 32, batchWaitMs: 5 };

export interface ServeMeasurement {
  batching: 'on' | 'off';
  concurrency: number;
  requests: number;
  requests_per_second: number;
  p50_ms: number;
  p95_ms: number;
  /** generation calls the requests took (batching packs them) */
  generation_calls: number;
}

export async function benchServe(): Promise<Record<string, unknown>[]> {
  const backend = await initBackend();
  const dataRoot = resolveDataRoot();
  const maxNewTokens = Number(process.env.ZSD_BENCH_SERVE_TOKENS ?? 16);
  const requests = Number(process.env.ZSD_BENCH_SERVE_REQUESTS ?? 64);
  const task = getTask('svamp');
  const inputs = loadSplit(task, 'test', [dataRoot]).rows.map((row) => studentInput(task, row));
  const temporary = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-bench-serve-'));
  try {
    const model = process.env.ZSD_BENCH_SERVE_MODEL ?? randomDemoStudent(temporary);
    const answerer = StudentAnswerer.load(model, { maxInputTokens: 512, dataRoot });
    const measurements: ServeMeasurement[] = [];
    try {
      for (const batching of ['off', 'on'] as const) {
        for (const concurrency of SERVE_CONCURRENCY) {
          measurements.push(await measure(answerer, batching, concurrency, requests, maxNewTokens, inputs));
        }
      }
    } finally {
      answerer.dispose();
    }
    const at = (batching: 'on' | 'off', concurrency: number) => measurements.find((item) => item.batching === batching && item.concurrency === concurrency)!;
    return [
      {
        bench: 'serve',
        student: process.env.ZSD_BENCH_SERVE_MODEL ?? 'random-init zsd-scratch, T5 vocabulary, svamp preprocessing',
        parameters: answerer.parameterCount(),
        backend: backend.name,
        max_new_tokens: maxNewTokens,
        batched: BATCHED,
        results: measurements,
        // the baseline is the same server without batching, measured in this run
        ratio_requests_per_second_batched_to_unbatched: Object.fromEntries(
          SERVE_CONCURRENCY.map((concurrency) => [concurrency, round(at('on', concurrency).requests_per_second / at('off', concurrency).requests_per_second)]),
        ),
      },
    ];
  } finally {
    fs.rmSync(temporary, { recursive: true, force: true });
  }
}

async function measure(
  answerer: StudentAnswerer,
  batching: 'on' | 'off',
  concurrency: number,
  requests: number,
  maxNewTokens: number,
  inputs: readonly string[],
): Promise<ServeMeasurement> {
  const server = await startStudentServer({
    answerer,
    modelId: 'bench',
    port: 0,
    maxNewTokens,
    maxQueue: 1024,
    ...(batching === 'on' ? BATCHED : { maxBatchSize: 1, batchWaitMs: 0 }),
  });
  try {
    let next = 0;
    const ask = async (input: string): Promise<number> => {
      const started = process.hrtime.bigint();
      const response = await fetch(`${server.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: input }] }),
      });
      if (response.status !== 200) throw new Error(`the bench server answered ${response.status}: ${await response.text()}`);
      await response.json();
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    for (let warm = 0; warm < 4; warm++) await ask(inputs[warm % inputs.length]);
    const before = server.stats().batches;
    const latencies: number[] = [];
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests) {
          const input = inputs[next++ % inputs.length];
          latencies.push(await ask(input));
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    return {
      batching,
      concurrency,
      requests,
      requests_per_second: round(requests / seconds),
      p50_ms: round(percentile(latencies, 0.5)),
      p95_ms: round(percentile(latencies, 0.95)),
      generation_calls: server.stats().batches - before,
    };
  } finally {
    await server.close();
  }
}

function randomDemoStudent(directory: string): string {
  const model = T5Model.randomInit(presetConfig('zsd-scratch', { dropoutRate: 0 }), 0);
  saveT5Model(model, directory);
  model.dispose();
  writeFileAtomic(
    path.join(directory, PREPROCESSING_FILE),
    `${JSON.stringify({ formatVersion: 1, task: 'svamp', inputPrefix: 'predict: ', numberMapping: true })}\n`,
  );
  return directory;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
