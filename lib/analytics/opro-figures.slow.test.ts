import { isZsdError } from '../core/errors';
import { DATA_ROOT, studyWorkspace, thrownBy } from '../test-support/fixtures';
import { oproBestSoFarFigure, oproRunFigure, runningBest, summarizeOproRounds, type OproLogRow } from './opro-figures';
import { promptMetadataRecords } from './prompt-metadata-table';

describe('best accuracy so far by template order', () => {
  const workspace = studyWorkspace();
  const tables = ['anli1', 'cqa'].map((task) => promptMetadataRecords({ dataRoot: DATA_ROOT, workspace, task }));

  test('is a running maximum over the templates in id order (cqa), and says why anli1 has none here', () => {
    const cqa = runningBest(tables[1]);
    expect(cqa.available).toBe(true);
    let best = -1;
    for (const point of cqa.points) {
      expect(point.improved).toBe(point.accuracy > best);
      best = Math.max(best, point.accuracy);
      expect(point.best).toBe(best);
    }
    expect(cqa.points.map((point) => point.template_id)).toEqual([...cqa.points.map((point) => point.template_id)].sort((a, b) => a - b));
    const anli1 = runningBest(tables[0]);
    expect(anli1.available).toBe(false);
    expect(anli1.reason).toMatch(/anli1_train/);
    const figure = oproBestSoFarFigure(tables);
    expect(figure.name).toBe('opro-best-so-far');
    expect((figure.data as { publishedAnli1Climb: number[] }).publishedAnli1Climb.at(-1)).toBe(0.71);
    expect(figure.figure.data).toHaveLength(2);
  });
});

describe('an OPRO run log', () => {
  const rows: OproLogRow[] = [
    { round: 0, candidate: 0, instruction: 'A', accuracy: 0.5 },
    { round: 0, candidate: 1, instruction: 'B', accuracy: 0.6 },
    { round: 1, candidate: 0, instruction: 'C', accuracy: 0.55 },
    { round: 1, candidate: 1, instruction: 'D', accuracy: null },
    { round: 2, candidate: 0, instruction: 'E', accuracy: 0.7 },
  ];

  test('per round: candidates, round best and mean, best so far; the best instruction', () => {
    expect(summarizeOproRounds(rows)).toEqual([
      { round: 0, candidates: 2, scored: 2, roundBest: 0.6, roundMean: 0.55, bestSoFar: 0.6 },
      { round: 1, candidates: 2, scored: 1, roundBest: 0.55, roundMean: 0.55, bestSoFar: 0.6 },
      { round: 2, candidates: 1, scored: 1, roundBest: 0.7, roundMean: 0.7, bestSoFar: 0.7 },
    ]);
    const figure = oproRunFigure({ task: 'anli1', name: 'anli1-test', rows });
    expect(figure.name).toBe('opro-run-anli1-test');
    expect((figure.data as { best: { instruction: string } }).best.instruction).toBe('E');
  });

  test('a bad row is refused naming the row and field', () => {
    const error = thrownBy(() => oproRunFigure({ task: 'anli1', rows: [...rows, { round: 3, candidate: 0, instruction: 'F', accuracy: 1.5 }] }));
    expect(isZsdError(error) && error.location.key).toBe('rows[5].accuracy');
    expect(String(error)).toMatch(/accuracy must be a number in \[0, 1\]/);
  });
});
