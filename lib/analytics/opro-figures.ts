import { ZsdError } from '../core/errors';
import type { NamedFigure } from './figure';
import { baseLayout, figureOf, PALETTE, rounded, missingDataNotes } from './plotly-layout';
import type { PromptMetadataRecords } from './prompt-metadata-table';

/**
 * OPRO (notebook 04): how the best accuracy found so far climbs as templates are tried.
 * - from prompt metadata: templates in id order (the order they were written), the running maximum of accuracy;
 * - from an OPRO run log (what zsd's OPRO runner records: one row per scored candidate), per round: every
 *   candidate's accuracy and the best so far.
 */

/** The study's ANLI1 OPRO climb (method.md): reference only. */
export const STUDY_ANLI1_OPRO_CLIMB = [0.592, 0.6, 0.62, 0.66, 0.678, 0.71] as const;

export interface RunningBestPoint {
  template_id: number;
  accuracy: number;
  best: number;
  /** true where this template raised the best */
  improved: boolean;
}

export interface RunningBestSeries {
  task: string;
  available: boolean;
  reason?: string;
  points: RunningBestPoint[];
}

export function runningBest(table: PromptMetadataRecords): RunningBestSeries {
  const scored = table.records.filter((record) => record.accuracy !== null).sort((a, b) => a.template_id - b.template_id);
  if (scored.length === 0) {
    return {
      task: table.task,
      available: false,
      reason: `no teacher accuracy for ${table.task}: ${table.source.goldUnavailable ?? `${table.source.location} has no accuracies`}`,
      points: [],
    };
  }
  let best = -Infinity;
  const points = scored.map((record) => {
    const accuracy = record.accuracy as number;
    const improved = accuracy > best;
    if (improved) best = accuracy;
    return { template_id: record.template_id, accuracy, best, improved };
  });
  return { task: table.task, available: true, points };
}

export function oproBestSoFarFigure(tables: readonly PromptMetadataRecords[]): NamedFigure {
  const series = tables.map(runningBest);
  const traces: Record<string, unknown>[] = [];
  series.forEach((entry, index) => {
    if (!entry.available) return;
    const color = PALETTE[index % PALETTE.length];
    traces.push({
      type: 'scatter',
      mode: 'markers',
      name: `${entry.task}: template accuracy`,
      x: entry.points.map((point) => point.template_id),
      y: entry.points.map((point) => point.accuracy),
      marker: { color, size: 5, opacity: 0.4 },
      legendgroup: entry.task,
    });
    traces.push({
      type: 'scatter',
      mode: 'lines',
      line: { shape: 'hv', color, width: 2.5 },
      name: `${entry.task}: best so far`,
      x: entry.points.map((point) => point.template_id),
      y: entry.points.map((point) => point.best),
      legendgroup: entry.task,
    });
  });
  const missing = series.filter((entry) => !entry.available);
  const title = 'Best teacher accuracy so far, by template order';
  const layout = baseLayout(title, 'template id (order written)', 'teacher accuracy (train sample)', {
    annotations: missingDataNotes(missing.map((entry) => entry.reason)),
  });
  return {
    name: 'opro-best-so-far',
    title,
    figure: figureOf(traces, layout),
    data: {
      series: series.map((entry) => ({
        ...entry,
        points: entry.points.map((point) => ({ ...point, accuracy: rounded(point.accuracy), best: rounded(point.best) })),
      })),
      publishedAnli1Climb: STUDY_ANLI1_OPRO_CLIMB,
    },
  };
}

/** One scored candidate of an OPRO run: the round it was proposed in, its index in the round, the instruction, its accuracy (null: not scored). */
export interface OproLogRow {
  round: number;
  candidate: number;
  instruction: string;
  accuracy: number | null;
}

export interface OproRunLog {
  task: string;
  /** names the figure file (opro-run-<name>); default the task */
  name?: string;
  rows: readonly OproLogRow[];
}

export interface OproRoundSummary {
  round: number;
  candidates: number;
  scored: number;
  roundBest: number | null;
  roundMean: number | null;
  bestSoFar: number | null;
}

/** Checks an OPRO log; a bad row fails naming its position and field. */
export function validateOproLog(log: OproRunLog): void {
  log.rows.forEach((row, index) => {
    const where = { key: `rows[${index}]` };
    if (!Number.isInteger(row.round) || row.round < 0)
      throw new ZsdError('usage', `round must be a non-negative integer, got ${JSON.stringify(row.round)}`, { key: `${where.key}.round` });
    if (!Number.isInteger(row.candidate) || row.candidate < 0)
      throw new ZsdError('usage', `candidate must be a non-negative integer, got ${JSON.stringify(row.candidate)}`, { key: `${where.key}.candidate` });
    if (typeof row.instruction !== 'string') throw new ZsdError('usage', 'instruction must be a string', { key: `${where.key}.instruction` });
    if (row.accuracy !== null && !(typeof row.accuracy === 'number' && row.accuracy >= 0 && row.accuracy <= 1)) {
      throw new ZsdError('usage', `accuracy must be a number in [0, 1] or null, got ${JSON.stringify(row.accuracy)}`, { key: `${where.key}.accuracy` });
    }
  });
}

export function summarizeOproRounds(rows: readonly OproLogRow[]): OproRoundSummary[] {
  const rounds = [...new Set(rows.map((row) => row.round))].sort((a, b) => a - b);
  let best: number | null = null;
  return rounds.map((round) => {
    const members = rows.filter((row) => row.round === round);
    const scores = members.map((row) => row.accuracy).filter((value): value is number => value !== null);
    const roundBest = scores.length > 0 ? Math.max(...scores) : null;
    if (roundBest !== null && (best === null || roundBest > best)) best = roundBest;
    return {
      round,
      candidates: members.length,
      scored: scores.length,
      roundBest,
      roundMean: scores.length > 0 ? scores.reduce((sum, value) => sum + value, 0) / scores.length : null,
      bestSoFar: best,
    };
  });
}

export function oproRunFigure(log: OproRunLog): NamedFigure {
  validateOproLog(log);
  const summary = summarizeOproRounds(log.rows);
  const scored = log.rows.filter((row) => row.accuracy !== null);
  const best = scored.reduce<OproLogRow | undefined>(
    (top, row) => (top === undefined || (row.accuracy as number) > (top.accuracy as number) ? row : top),
    undefined,
  );
  const traces = [
    {
      type: 'scatter',
      mode: 'markers',
      name: 'candidate',
      x: scored.map((row) => row.round),
      y: scored.map((row) => row.accuracy),
      text: scored.map((row) => row.instruction),
      hovertemplate: 'round %{x}: %{y:.3f}<br>%{text}<extra></extra>',
      marker: { color: PALETTE[0], size: 6, opacity: 0.5 },
    },
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'best so far',
      x: summary.map((round) => round.round),
      y: summary.map((round) => round.bestSoFar),
      line: { shape: 'hv', color: PALETTE[1], width: 2.5 },
    },
  ];
  const title = `OPRO run (${log.task}): candidate accuracy per round`;
  return {
    name: `opro-run-${log.name ?? log.task}`,
    title,
    figure: figureOf(traces, baseLayout(title, 'round', 'accuracy on the scoring rows')),
    data: {
      task: log.task,
      rounds: summary.map((round) => ({
        ...round,
        roundBest: rounded(round.roundBest),
        roundMean: rounded(round.roundMean),
        bestSoFar: rounded(round.bestSoFar),
      })),
      best: best ? { round: best.round, candidate: best.candidate, instruction: best.instruction, accuracy: best.accuracy } : null,
    },
  };
}
