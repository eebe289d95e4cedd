/**
 * `npm run bench`: one JSON object per line, each with a `bench` name and its measures.
 * Speed claims are ratios against a baseline measured in the same run, never timed assertions in tests.
 *
 * evaluate-recorded: parse and evaluate every recorded response of the study ($ZSD_DATA/zero-shot, all tasks,
 * splits and templates), as `zsd study` does. Baseline: reading and JSON-parsing the same files (the floor
 * any evaluator pays). The study's own Python evaluator took 18.7 s for this on this kind of machine.
 *
 * annotate, warm-store: querying 2000 prompts through the scheduler against the fake server, then again from the
 * store (annotate.ts). warm-store needs annotate's stores, so the two run together; a selection prints only its own.
 *
 * train-step: one forward + backward + AdamW step of the student for issue 5's configuration, against PyTorch's
 * time on the same machine when its measurement is given (train-step.ts).
 *
 * serve: requests/s and p50/p95 latency of `zsd serve` at 1, 8 and 32 concurrent clients, batching on against
 * batching off in the same run (serve.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveDataRoot, resolveWorkspace } from '../core/paths';
import { getTask } from '../data/tasks';
import { evaluateTeacher } from '../evaluate/evaluate-teacher';
import { listRecordedTemplateIds, responsesFile } from '../teacher/recorded-responses';
import { benchAnnotateAndWarmStore } from './annotate';
import { benchServe } from './serve';
import { benchTrainStep } from './train-step';

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function benchEvaluateRecorded(): Record<string, unknown> {
  const dataRoot = resolveDataRoot();
  const study = path.join(dataRoot, 'zero-shot');
  const workspace = resolveWorkspace(dataRoot, study);
  const runs: { task: string; split: string }[] = [];
  for (const task of fs.readdirSync(path.join(study, 'query-results')).sort()) {
    for (const split of fs.readdirSync(path.join(study, 'query-results', task)).sort()) runs.push({ task, split });
  }
  const evaluateAll = () => {
    let responses = 0;
    for (const { task, split } of runs) {
      const result = evaluateTeacher({ task: getTask(task), split, dataRoot, workspace, teacher: 'gpt-3.5-turbo' });
      for (const report of result.reports) responses += report.evaluation.n_responses;
    }
    return responses;
  };
  const readAll = () => {
    let lines = 0;
    for (const { task, split } of runs) {
      for (const id of listRecordedTemplateIds(workspace, task, split)) {
        for (const line of fs.readFileSync(responsesFile(study, task, split, id), 'utf8').split('\n')) {
          if (line !== '') {
            JSON.parse(line);
            lines++;
          }
        }
      }
    }
    return lines;
  };
  let start = process.hrtime.bigint();
  const responses = evaluateAll();
  const cold = seconds(start);
  const warm: number[] = [];
  for (let run = 0; run < 3; run++) {
    start = process.hrtime.bigint();
    evaluateAll();
    warm.push(seconds(start));
  }
  start = process.hrtime.bigint();
  const lines = readAll();
  const baseline = seconds(start);
  const best = Math.min(...warm);
  return {
    bench: 'evaluate-recorded',
    seconds: round(cold),
    seconds_warm_best_of_3: round(best),
    responses,
    response_lines: lines,
    responses_per_second: Math.round(responses / cold),
    baseline_read_and_json_parse_seconds: round(baseline),
    ratio_to_baseline: round(best / baseline),
    study_python_seconds: 18.7,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

type BenchLine = Record<string, unknown>;

/** Each group runs once and prints one line per bench it names. */
const benches: { names: string[]; run: () => BenchLine[] | Promise<BenchLine[]> }[] = [
  { names: ['evaluate-recorded'], run: () => [benchEvaluateRecorded()] },
  { names: ['annotate', 'warm-store'], run: benchAnnotateAndWarmStore },
  { names: ['train-step'], run: benchTrainStep },
  { names: ['serve'], run: benchServe },
];

async function main(): Promise<void> {
  const selected = process.argv.slice(2);
  const known = benches.flatMap((group) => group.names);
  const unknown = selected.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`unknown bench ${unknown.join(', ')}; known: ${known.join(', ')}`);
  for (const group of benches) {
    if (selected.length > 0 && !group.names.some((name) => selected.includes(name))) continue;
    for (const line of await group.run()) {
      if (selected.length === 0 || selected.includes(String(line.bench))) process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
