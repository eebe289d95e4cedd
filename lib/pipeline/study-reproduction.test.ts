import * as path from 'node:path';
import { PUBLISHED_TEACHER_ACCURACIES } from '../evaluate/published';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import type { PipelineEvent } from './events';
import { reproduceStudy } from './study-reproduction';

// `zsd study` in process: every published teacher accuracy reproduced from the recorded responses, the best
// template per task, and the prompt metadata written into the workspace (and only there).

test('every published number reproduced; each task, split and teacher evaluated once; metadata for the four train splits', () => {
  const workspace = temporaryDirectory();
  const events: PipelineEvent[] = [];
  const study = reproduceStudy({ data: DATA_ROOT, workspace, onEvent: (event) => events.push(event) });
  expect(study.mismatches).toBe(0);
  expect(study.comparisons).toHaveLength(PUBLISHED_TEACHER_ACCURACIES.length);
  expect(study.comparisons.every((comparison) => comparison.matches && comparison.measured !== null)).toBe(true);
  const messages = events.map((event) => (event.kind === 'info' ? event.message : event.kind));
  expect(new Set(messages).size).toBe(messages.length);
  expect(messages).toContain('evaluating svamp test (gpt-3.5-turbo)...');
  expect(messages).toContain('evaluating svamp test (palm)...');
  expect(study.bestTemplates.map((best) => [best.task, best.best.id])).toEqual([
    ['anli1', '1'],
    ['cqa', '6'],
    ['esnli', '1'],
    ['svamp', '2'],
  ]);
  expect(study.bestTemplates.find((best) => best.task === 'anli1')?.goldUnavailable).toBeDefined();
  expect(study.metadataFiles).toEqual(['anli1', 'cqa', 'esnli', 'svamp'].map((task) => path.join(workspace, 'prompt-metadata', `${task}.yaml`)));
  expect(study.responses).toBeGreaterThan(40_000);
});
