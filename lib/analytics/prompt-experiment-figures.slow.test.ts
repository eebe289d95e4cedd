import * as path from 'node:path';
import { DATA_ROOT, studyWorkspace, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { resolveWorkspace } from '../core/paths';
import {
  accuracyScatterFigure,
  promptExperimentFigures,
  PROMPT_CHARACTERISTICS,
  STUDY_ANLI1_SLOPES,
  type ScatterFigureData,
} from './prompt-experiment-figures';
import { promptMetadataRecords } from './prompt-metadata-table';

const workspace = studyWorkspace();
const tables = ['anli1', 'cqa'].map((task) => promptMetadataRecords({ dataRoot: DATA_ROOT, workspace, task }));

describe('prompt metadata from the recorded study (no metadata file in the workspace)', () => {
  test('one row per recorded train template, with the study counts and recorded token costs', () => {
    const [anli1, cqa] = tables;
    expect(anli1.source.kind).toBe('recorded study');
    expect(anli1.records).toHaveLength(177);
    expect(cqa.records).toHaveLength(84); // cqa train/3 is not shipped
    const first = anli1.records[0];
    // study-counts fixture: anli1/train/1 has 125 responses, all explained, 2583 words
    expect(first).toMatchObject({ template_id: 1, n_responses: 125, n_explanations: 125, explanation_rate: 1, accuracy: null, queries: 125 });
    expect(first.avg_nr_of_words).toBeCloseTo(2583 / 125, 2);
    expect(first.avg_cost_per_query).toBeGreaterThan(0.0001);
    expect(anli1.source.goldUnavailable).toMatch(/anli1_train/);
    expect(cqa.records.every((record) => record.accuracy !== null)).toBe(true);
  });
});

describe('teacher accuracy against template characteristics', () => {
  const figures = promptExperimentFigures(tables);

  test('eight figures: four histograms and four scatter plots, named for their file', () => {
    expect(figures.map((figure) => figure.name)).toEqual([
      'prompt-fre-histogram',
      'prompt-words-histogram',
      'prompt-explanation-rate-histogram',
      'prompt-explanation-sd-histogram',
      'prompt-accuracy-vs-fre',
      'prompt-accuracy-vs-words',
      'prompt-accuracy-vs-explanation-rate',
      'prompt-accuracy-vs-explanation-sd',
    ]);
    const histogram = figures[0].data as { values: Record<string, unknown[]> };
    expect(histogram.values.anli1.length).toBeGreaterThan(100);
  });

  test('ANLI1: the published slopes are carried, and the recorded study cannot give its own (no anli1 train gold labels here)', () => {
    for (const characteristic of PROMPT_CHARACTERISTICS) {
      const data = figures.find((figure) => figure.name === `prompt-accuracy-vs-${characteristic.slug}`)!.data as ScatterFigureData;
      expect(data.publishedAnli1Slope).toBe(STUDY_ANLI1_SLOPES[characteristic.field]);
      const anli1 = data.slopes.find((slope) => slope.task === 'anli1')!;
      expect(anli1.slope).toBeNull();
      expect(anli1.reason).toMatch(/no teacher accuracy for anli1/);
      const cqa = data.slopes.find((slope) => slope.task === 'cqa')!;
      expect(cqa.slope).not.toBeNull();
      expect(cqa.templates).toBeGreaterThan(50);
    }
  });

  test('CQA (the task with train gold labels here): FRE, words and SD slopes have the signs of the study ANLI1 slopes, explanation rate does not', () => {
    const slope = (slug: string) =>
      (figures.find((figure) => figure.name === `prompt-accuracy-vs-${slug}`)!.data as ScatterFigureData).slopes.find((entry) => entry.task === 'cqa')!.slope!;
    // Measured on the 84 recorded cqa train templates (75 rows each): see lib/analytics/README.md.
    expect(slope('fre')).toBeCloseTo(0.000786, 5);
    expect(slope('words')).toBeCloseTo(-0.00131, 5);
    expect(slope('explanation-rate')).toBeCloseTo(-0.0702, 3);
    expect(slope('explanation-sd')).toBeCloseTo(-0.000131, 5);
  });

  test('with the study ANLI1 metadata in the workspace, the slopes are fitted on templates with at least 5 explanations', () => {
    // A metadata file in the study's schema whose accuracies lie exactly on the published lines: the fit gives them back,
    // and a template with 4 explanations off the line is left out.
    const root = temporaryDirectory();
    const lines: string[] = [];
    for (let id = 1; id <= 12; id++) {
      const fre = 40 + 3 * id;
      const words = 10 + id;
      const explained = id === 12 ? 4 : 50 - id;
      const none = 50 - explained;
      const variance = (20 + 5 * id) ** 2;
      const accuracy = id === 12 ? 0.99 : 0.3 + STUDY_ANLI1_SLOPES.flesch_reading_ease * fre;
      lines.push(
        `${id}:`,
        '  characteristics:',
        `    total_responses: ${explained}`,
        `    n_none_responses: ${none}`,
        `    flesch_reading_ease: ${fre}`,
        `    avg_nr_of_words: ${words}`,
        `    variance_length_of_explanations: ${variance}`,
        '  performance:',
        `    accuracy: ${accuracy}`,
      );
    }
    writeFile(path.join(root, 'prompt-metadata', 'anli1.yaml'), `${lines.join('\n')}\n`);
    const table = promptMetadataRecords({ dataRoot: DATA_ROOT, workspace: resolveWorkspace(DATA_ROOT, root), task: 'anli1' });
    expect(table.source.kind).toBe('workspace metadata');
    const data = accuracyScatterFigure([table], PROMPT_CHARACTERISTICS[0]).data as ScatterFigureData;
    expect(data.slopes[0].templates).toBe(11);
    expect(data.slopes[0].slope).toBeCloseTo(STUDY_ANLI1_SLOPES.flesch_reading_ease, 8);
  });
});
