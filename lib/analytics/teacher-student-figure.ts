import { readComparisons, type Comparison } from '../serve/compare';
import type { NamedFigure } from './figure';
import { figureOf, missingDataNotes, PALETTE, rounded } from './plotly-layout';

/**
 * Teacher vs student (`zsd compare`, kept in `<workspace>/analytics/teacher-vs-student/`): one figure per comparison,
 * four panels of two bars each: accuracy, explanation rate, dollars per 1,000 answers (log scale: the two differ by
 * orders of magnitude) and p95 latency. A number the comparison does not have (the teacher's latency, when its
 * answers were recorded) is left out with a grey note, never drawn as zero.
 */
export function teacherStudentFigures(workspaceRoot: string): NamedFigure[] {
  return readComparisons(workspaceRoot).map(teacherStudentFigure);
}

const PANELS = [
  { key: 'accuracy', title: 'accuracy', value: (side: Comparison['teacher']) => side.accuracy },
  { key: 'explanation_rate', title: 'explanation rate', value: (side: Comparison['teacher']) => side.explanation_rate },
  { key: 'usd_per_1000_answers', title: '$ per 1,000 answers (log)', value: (side: Comparison['teacher']) => side.usd_per_1000_answers },
  { key: 'p95_latency_ms', title: 'p95 latency (ms)', value: (side: Comparison['teacher']) => side.latency_ms?.p95 ?? null },
] as const;

export function teacherStudentFigure(comparison: Comparison): NamedFigure {
  const sides = [
    { role: 'teacher', side: comparison.teacher, color: PALETTE[1] },
    { role: 'student', side: comparison.student, color: PALETTE[0] },
  ];
  const width = 0.19;
  const gap = (1 - width * PANELS.length) / (PANELS.length - 1);
  const layout: Record<string, unknown> = {
    title: { text: `Teacher vs student: ${comparison.task} ${comparison.split}, ${comparison.rows.length} rows` },
    template: 'plotly_white',
    showlegend: false,
    margin: { t: 90, l: 50, r: 20, b: 60 },
    width: 1000,
    height: 420,
  };
  const data: Record<string, unknown>[] = [];
  const missing: { text: string; x: number }[] = [];
  PANELS.forEach((panel, index) => {
    const suffix = index === 0 ? '' : String(index + 1);
    const start = index * (width + gap);
    layout[`xaxis${suffix}`] = { domain: [start, start + width], anchor: `y${suffix}`, title: { text: panel.title } };
    layout[`yaxis${suffix}`] = {
      anchor: `x${suffix}`,
      zeroline: false,
      ...(panel.key === 'usd_per_1000_answers' ? { type: 'log' } : {}),
      ...(panel.key === 'accuracy' || panel.key === 'explanation_rate' ? { range: [0, 1] } : {}),
    };
    const drawn = sides.filter(({ side }) => panel.value(side) !== null);
    for (const { role, side } of sides)
      if (panel.value(side) === null) missing.push({ text: `${role}: not measured${role === 'teacher' ? ' (recorded, untimed)' : ''}`, x: start });
    data.push({
      type: 'bar',
      x: drawn.map(({ role, side }) => `${role}<br>${side.name}`),
      y: drawn.map(({ side }) => panel.value(side)),
      marker: { color: drawn.map(({ color }) => color) },
      xaxis: `x${suffix}`,
      yaxis: `y${suffix}`,
      name: panel.title,
      text: drawn.map(({ side }) => formatValue(panel.key, panel.value(side)!)),
      textposition: 'auto',
    });
  });
  // each note over its own panel, high enough to clear the axis' top tick
  layout.annotations = missingDataNotes(missing.map((note) => note.text)).map((note, index) => ({ ...note, x: missing[index].x, y: 1.06 + 0.05 * index }));
  return {
    name: `teacher-vs-student-${comparison.task}-${comparison.split}-${comparison.template}`,
    title: `Teacher vs student: ${comparison.task} ${comparison.split}`,
    figure: figureOf(data, layout),
    data: {
      task: comparison.task,
      split: comparison.split,
      template: comparison.template,
      rows: comparison.rows.length,
      sides: sides.map(({ role, side }) => ({
        role,
        name: side.name,
        accuracy: rounded(side.accuracy),
        explanation_rate: rounded(side.explanation_rate),
        usd_per_1000_answers: rounded(side.usd_per_1000_answers, 9),
        p50_latency_ms: rounded(side.latency_ms?.p50 ?? null, 3),
        p95_latency_ms: rounded(side.latency_ms?.p95 ?? null, 3),
        answers_per_second: rounded(side.answers_per_second, 3),
        parameters: side.parameters,
        cost_basis: side.cost_basis,
      })),
    },
  };
}

function formatValue(key: (typeof PANELS)[number]['key'], value: number): string {
  if (key === 'usd_per_1000_answers') return `$${value < 0.01 ? value.toExponential(1) : value.toFixed(2)}`;
  if (key === 'p95_latency_ms') return `${Math.round(value)} ms`;
  return value.toFixed(2);
}
