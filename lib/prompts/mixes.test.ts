import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { DATA_ROOT, listFiles, studyWorkspace, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { assignRows, findMixFile, loadMix, mixAssignment, rowTemplates, subsampleExplanations, type MixPart, type PromptMix } from './mixes';
import { loadTemplates } from './templates';

// Expected rows computed with numpy 2.4.6 (legacy np.random), never at test time:
//   np.random.seed(seed); idx = np.arange(n); np.random.shuffle(idx)
//   blocks of int(fraction * n) in key order, the last block idx[start:]
// checksum = sum((i + 1) * idx[i] for i in block) % 1_000_000_007

const STUDY_MIXES = path.join(DATA_ROOT, 'zero-shot', 'prompt-mixes');
const TASKS = ['anli1', 'cqa', 'esnli', 'svamp'] as const;

function thrownBy(action: () => unknown): ZsdError {
  try {
    action();
  } catch (error) {
    if (error instanceof ZsdError) return error;
    throw error;
  }
  throw new Error('expected the call to throw');
}

function checksum(block: readonly number[]): number {
  return block.reduce((sum, value, index) => (sum + (index + 1) * value) % 1_000_000_007, 0);
}

function part(entries: Record<string, number> | [number, number][]): MixPart {
  const pairs = Array.isArray(entries) ? entries : Object.entries(entries).map(([id, fraction]) => [Number(id), fraction] as [number, number]);
  return pairs.map(([templateId, fraction]) => ({ templateId, fraction }));
}

describe("the study's prompt mixes", () => {
  const workspace = studyWorkspace();
  const templateSets = TASKS.map((task) => loadTemplates(workspace, task));
  const mixIds = fs
    .readdirSync(STUDY_MIXES)
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => name.replace(/\.yaml$/, ''))
    .sort((a, b) => Number(a) - Number(b));

  test('there are 19 of them', () => {
    expect(mixIds).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '71', '72', '73', '74', '75']);
  });

  test.each(mixIds)('mix %s loads, and against the templates of every task that has all its ids', (id) => {
    const mix = loadMix(workspace, id);
    expect(mix.file).toBe(path.join(STUDY_MIXES, `${id}.yaml`));
    expect(mix.id).toBe(id);
    const ids = [...mix.label, ...mix.explanation].map((entry) => entry.templateId);
    const matching = templateSets.filter((set) => ids.every((templateId) => set.templates.has(templateId)));
    expect(matching.length).toBeGreaterThan(0);
    for (const set of matching) expect(loadMix(workspace, id, set)).toEqual(mix);
  });

  test('mix 1 reads seed and parts in key order', () => {
    const mix = loadMix(workspace, '1');
    expect(mix).toMatchObject({
      seed: 405,
      label: part([
        [1, 0.5],
        [2, 0.25],
        [3, 0.25],
      ]),
      explanation: part([[1, 1]]),
    });
  });

  test('key order is the file order, not numeric order (mix 5 lists 100 before 32)', () => {
    const mix = loadMix(workspace, '5');
    expect(mix.label.map((entry) => entry.templateId)).toEqual([100, 32]);
    expect(mix.explanation.map((entry) => entry.templateId)).toEqual([100, 32]);
    // numpy, seed 42, n = 10: idx = [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]; the first half goes to 100, listed first.
    const assignment = mixAssignment(mix, 10);
    expect(assignment.label).toEqual(
      new Map([
        [100, [8, 1, 5, 0, 7]],
        [32, [2, 9, 4, 3, 6]],
      ]),
    );
    expect(
      assignRows(
        part([
          [32, 0.5],
          [100, 0.5],
        ]),
        10,
        42,
      ).get(100),
    ).toEqual([2, 9, 4, 3, 6]);
  });

  test('mix 9 (template 1000) belongs to anli1 only', () => {
    const mix = loadMix(workspace, '9');
    const matching = templateSets.filter((set) => mix.label.every((entry) => set.templates.has(entry.templateId)));
    expect(matching.map((set) => set.task)).toEqual(['anli1']);
  });
});

describe('assignRows reproduces numpy', () => {
  const mix1Label = part([
    [1, 0.5],
    [2, 0.25],
    [3, 0.25],
  ]);

  test.each([
    [
      800,
      [
        [1, 400, [222, 254, 561, 59, 293, 653, 428, 695, 382, 121], 31897749, 160734],
        [2, 200, [8, 697, 469, 774, 183, 726, 399, 268, 729, 553], 7562368, 77085],
        [3, 200, [317, 746, 657, 181, 721, 565, 638, 669, 731, 562], 8337133, 81781],
      ],
    ],
    [
      200,
      [
        [1, 100, [95, 85, 114, 83, 59, 172, 9, 189, 71, 118], 506729, 10084],
        [2, 50, [66, 45, 84, 141, 50, 160, 30, 139, 16, 5], 126878, 4934],
        [3, 50, [28, 10, 61, 131, 152, 36, 178, 37, 151, 154], 128909, 4882],
      ],
    ],
  ] as [number, [number, number, number[], number, number][]][])('mix 1 labels (seed 405, {1: 0.5, 2: 0.25, 3: 0.25}) over n = %i rows', (n, expected) => {
    const assignment = assignRows(mix1Label, n, 405);
    expect([...assignment.keys()]).toEqual([1, 2, 3]);
    for (const [templateId, size, firstTen, expectedChecksum, sum] of expected) {
      const rows = assignment.get(templateId)!;
      expect({ templateId, size: rows.length, firstTen: rows.slice(0, 10), checksum: checksum(rows), sum: rows.reduce((a, b) => a + b, 0) }).toEqual({
        templateId,
        size,
        firstTen,
        checksum: expectedChecksum,
        sum,
      });
    }
    // Every row exactly once.
    expect([...assignment.values()].flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, index) => index));
  });

  test('flooring leaves a remainder that goes to the last block (1/3 each of 100 rows: 33, 33, 34)', () => {
    const assignment = assignRows(
      part([
        [1, 1 / 3],
        [2, 1 / 3],
        [3, 1 / 3],
      ]),
      100,
      405,
    );
    const expected: [number, number, number[], number][] = [
      [1, 33, [90, 11, 58, 42, 72, 20, 14, 41, 22, 50], 25761],
      [2, 33, [52, 27, 16, 57, 2, 55, 85, 91, 69, 66], 32965],
      [3, 34, [93, 29, 31, 75, 64, 76, 44, 4, 77, 34], 28187],
    ];
    for (const [templateId, size, firstTen, expectedChecksum] of expected) {
      const rows = assignment.get(templateId)!;
      expect([templateId, rows.length, rows.slice(0, 10), checksum(rows)]).toEqual([templateId, size, firstTen, expectedChecksum]);
    }
  });

  test('int(fraction * n) is float multiplication then truncation: int(0.29 * 100) == 28, so the last block gets 72', () => {
    expect(0.29 * 100).toBe(28.999999999999996);
    const assignment = assignRows(
      part([
        [5, 0.29],
        [6, 0.71],
      ]),
      100,
      7,
    );
    expect(assignment.get(5)!.length).toBe(28);
    expect(assignment.get(5)!.slice(0, 10)).toEqual([37, 26, 78, 91, 49, 15, 93, 71, 86, 22]);
    expect(checksum(assignment.get(5)!)).toBe(17246);
    expect(assignment.get(6)!.length).toBe(72);
    expect(assignment.get(6)!.slice(0, 10)).toEqual([74, 96, 65, 54, 27, 58, 33, 43, 36, 21]);
    expect(checksum(assignment.get(6)!)).toBe(132523);
  });

  test('a single template takes every row, in shuffled order; n = 0 gives an empty block', () => {
    const rows = assignRows(part([[1, 1]]), 800, 405).get(1)!;
    expect(rows).toHaveLength(800);
    expect(rows.slice(0, 10)).toEqual([222, 254, 561, 59, 293, 653, 428, 695, 382, 121]);
    expect(
      assignRows(
        part([
          [1, 0.5],
          [2, 0.5],
        ]),
        0,
        405,
      ),
    ).toEqual(
      new Map([
        [1, []],
        [2, []],
      ]),
    );
  });

  test('rejects a bad row count and a template listed twice', () => {
    expect(thrownBy(() => assignRows(part([[1, 1]]), -1, 405)).kind).toBe('usage');
    expect(thrownBy(() => assignRows(part([[1, 1]]), 2.5, 405)).kind).toBe('usage');
    expect(
      thrownBy(() =>
        assignRows(
          part([
            [1, 0.5],
            [1, 0.5],
          ]),
          10,
          405,
        ),
      ).message,
    ).toMatch(/lists a template twice/);
    expect(thrownBy(() => assignRows([], 10, 405)).message).toMatch(/at least one template/);
  });
});

describe('mixAssignment and rowTemplates', () => {
  const workspace = studyWorkspace();

  test('label and explanation parts with the same seed and fractions get identical rows', () => {
    const mix: PromptMix = { id: 'x', seed: 405, label: mixPart(), explanation: mixPart(), file: 'x.yaml' };
    const assignment = mixAssignment(mix, 800);
    expect(assignment.explanation).toEqual(assignment.label);
    for (const row of rowTemplates(mix, 800)) expect(row.explanationTemplate).toBe(row.labelTemplate);
    function mixPart(): MixPart {
      return part([
        [1, 0.5],
        [2, 0.25],
        [3, 0.25],
      ]);
    }
  });

  test('mix 2: each part is seeded afresh, so label template 1 and explanation template 1 share their 400 rows', () => {
    const mix = loadMix(workspace, '2');
    const assignment = mixAssignment(mix, 800);
    expect(assignment.label.get(1)).toEqual(assignment.explanation.get(1));
    expect(assignment.explanation.get(1)!.slice(0, 10)).toEqual([197, 170, 224, 517, 496, 387, 737, 168, 507, 323]);
    expect(checksum(assignment.explanation.get(1)!)).toBe(31910931);
    expect(assignment.explanation.get(2)!.slice(0, 10)).toEqual([153, 29, 656, 433, 657, 370, 660, 6, 304, 315]);
    expect(checksum(assignment.explanation.get(2)!)).toBe(31523156);
    // Label template 3 takes the rows explanation template 2 takes.
    expect(assignment.label.get(3)).toEqual(assignment.explanation.get(2));
  });

  test('rowTemplates lists, per row, the templates of mix 1 (explanations all from template 1)', () => {
    const rows = rowTemplates(loadMix(workspace, '1'), 200);
    expect(rows).toHaveLength(200);
    expect(rows[95]).toEqual({ labelTemplate: 1, explanationTemplate: 1 });
    expect(rows[66]).toEqual({ labelTemplate: 2, explanationTemplate: 1 });
    expect(rows[28]).toEqual({ labelTemplate: 3, explanationTemplate: 1 });
    expect(rows.filter((row) => row.labelTemplate === 1)).toHaveLength(100);
    expect(rows.filter((row) => row.labelTemplate === 2)).toHaveLength(50);
    expect(rows.every((row) => row.explanationTemplate === 1)).toBe(true);
  });
});

describe('subsampleExplanations (numpy seed 100, one draw per explained row)', () => {
  test('50 explained rows at rate 0.33: exactly the rows numpy drops', () => {
    const kept = subsampleExplanations(new Array<boolean>(50).fill(true), 0.33);
    const dropped = kept.flatMap((keep, row) => (keep ? [] : [row]));
    expect(dropped).toEqual([0, 2, 3, 6, 7, 9, 10, 15, 16, 18, 20, 21, 22, 23, 25, 28, 30, 31, 33, 35, 36, 38, 39, 40, 41, 42, 45, 46, 49]);
  });

  test('rows without an explanation stay false and consume no draw', () => {
    const hasExplanation = Array.from({ length: 30 }, (_, row) => row % 3 !== 1);
    const kept = subsampleExplanations(hasExplanation, 0.5);
    // numpy: the explained rows, in order, take draws 0.543, 0.278, 0.425, 0.845, 0.005, ...
    expect(kept.flatMap((keep, row) => (keep ? [row] : []))).toEqual([2, 3, 6, 8, 12, 17, 18, 20, 21, 26, 29]);
    for (let row = 1; row < 30; row += 3) expect(kept[row]).toBe(false);
  });

  test('rate 1 keeps every explanation; rate 0 drops every explained row; unexplained rows stay false', () => {
    const hasExplanation = Array.from({ length: 50 }, (_, row) => row !== 7);
    expect(subsampleExplanations(hasExplanation, 1)).toEqual(hasExplanation);
    expect(subsampleExplanations(hasExplanation, 0)).toEqual(new Array<boolean>(50).fill(false));
    expect(subsampleExplanations([], 0.5)).toEqual([]);
  });

  test.each([1.5, -0.1, Number.NaN])('rate %p is a usage error', (rate) => {
    const error = thrownBy(() => subsampleExplanations([true], rate));
    expect(error.kind).toBe('usage');
    expect(error.message).toBe(`--explanation-rate must be between 0 and 1, got ${rate}`);
  });
});

describe('bad mix files', () => {
  const root = temporaryDirectory();
  const workspace = studyWorkspace(root);
  const written: string[] = [];

  function mixFile(id: string, content: string): void {
    writeFile(path.join(root, 'prompt-mixes', `${id}.yaml`), content);
    written.push(path.join('prompt-mixes', `${id}.yaml`));
  }

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test("a mix in the user's workspace comes before the recorded study's", () => {
    mixFile('1', 'seed: 7\nlabel:\n  2: 1.0\nexplanation:\n  2: 1.0\n');
    expect(findMixFile(workspace, '1')).toBe(path.join(root, 'prompt-mixes', '1.yaml'));
    expect(loadMix(workspace, '1')).toMatchObject({ seed: 7, label: part([[2, 1]]) });
    expect(findMixFile(workspace, '2')).toBe(path.join(STUDY_MIXES, '2.yaml'));
  });

  test.each([
    ['sum', 'seed: 1\nlabel:\n  1: 0.5\n  2: 0.25\nexplanation:\n  1: 1.0\n', 'label', 2, 'fractions of label sum to 0.75; expected 1 (within 1e-9)'],
    ['sum-over', 'seed: 1\nlabel:\n  1: 1.0\nexplanation:\n  1: 0.75\n  2: 0.5\n', 'explanation', 4, 'fractions of explanation sum to 1.25; expected 1'],
    ['zero', 'seed: 1\nlabel:\n  1: 0\n  2: 1.0\nexplanation:\n  1: 1.0\n', 'label.1', 3, 'expected a fraction greater than 0 and at most 1, got 0'],
    ['above-one', 'seed: 1\nlabel:\n  1: 1.0\nexplanation:\n  1: 1.5\n', 'explanation.1', 5, 'expected a fraction greater than 0 and at most 1, got 1.5'],
    ['text-fraction', 'seed: 1\nlabel:\n  1: half\nexplanation:\n  1: 1.0\n', 'label.1', 3, 'expected a fraction greater than 0 and at most 1, got "half"'],
    ['float-seed', 'seed: 4.5\nlabel:\n  1: 1.0\nexplanation:\n  1: 1.0\n', 'seed', 1, 'seed must be a non-negative integer below 2**32 (numpy seed), got 4.5'],
    [
      'float-seed-integral',
      'seed: 405.0\nlabel:\n  1: 1.0\nexplanation:\n  1: 1.0\n',
      'seed',
      1,
      'seed must be an integer (numpy rejects a float seed), got 405.0',
    ],
    ['negative-seed', 'seed: -3\nlabel:\n  1: 1.0\nexplanation:\n  1: 1.0\n', 'seed', 1, 'got -3'],
    ['big-seed', 'seed: 4294967296\nlabel:\n  1: 1.0\nexplanation:\n  1: 1.0\n', 'seed', 1, 'below 2**32'],
    ['no-seed', 'label:\n  1: 1.0\nexplanation:\n  1: 1.0\n', 'seed', undefined, 'missing key seed'],
    ['no-label', 'seed: 1\nexplanation:\n  1: 1.0\n', 'label', undefined, 'missing key label: expected a mapping of template id to fraction'],
    ['empty-part', 'seed: 1\nlabel: {}\nexplanation:\n  1: 1.0\n', 'label', 2, 'label lists no template'],
    [
      'list-part',
      'seed: 1\nlabel: [1, 2]\nexplanation:\n  1: 1.0\n',
      'label',
      2,
      'expected a mapping of template id to fraction, e.g. {1: 0.5, 2: 0.5}, got a list',
    ],
    ['text-id', 'seed: 1\nlabel:\n  one: 1.0\nexplanation:\n  1: 1.0\n', 'label.one', 3, 'template ids are non-negative integers, got "one"'],
    ['negative-id', 'seed: 1\nlabel:\n  -2: 1.0\nexplanation:\n  1: 1.0\n', 'label.-2', 3, 'template ids are non-negative integers, got -2'],
    ['float-id', 'seed: 1\nlabel:\n  1.0: 1.0\nexplanation:\n  1: 1.0\n', 'label.1.0', 3, 'template ids are non-negative integers, got 1.0'],
    ['unknown-key', 'seed: 1\nlabel:\n  1: 1.0\nexplanation:\n  1: 1.0\nseeds: 2\n', 'seeds', 6, 'unknown key seeds'],
    ['empty', '', undefined, undefined, 'the file is empty'],
    ['broken', 'seed: 1\nlabel:\n  1: 1.0\n explanation: [1\n', undefined, 4, 'broken YAML'],
  ] as [string, string, string | undefined, number | undefined, string][])('%s', (id, content, key, line, message) => {
    mixFile(id, content);
    const error = thrownBy(() => loadMix(workspace, id));
    expect(error.kind).toBe('invalid-file');
    expect(error.location).toEqual({ file: path.join(root, 'prompt-mixes', `${id}.yaml`), key, line });
    expect(error.detail).toContain(message);
  });

  test('broken YAML names the line', () => {
    mixFile('broken-line', 'seed: 1\nlabel:\n  1: 1.0\nexplanation: {1: 1.0\n');
    const error = thrownBy(() => loadMix(workspace, 'broken-line'));
    expect(error.message).toMatch(/broken-line\.yaml:\d+: broken YAML/);
    expect(error.location.line).toBeGreaterThanOrEqual(4);
  });

  test('a template id missing from the templates', () => {
    mixFile('bad-template', 'seed: 405\nlabel:\n  1: 0.5\n  7: 0.5\nexplanation:\n  1: 1.0\n');
    const templates = loadTemplates(workspace, 'svamp');
    expect(loadMix(workspace, 'bad-template')).toMatchObject({
      label: part([
        [1, 0.5],
        [7, 0.5],
      ]),
    });
    const error = thrownBy(() => loadMix(workspace, 'bad-template', templates));
    expect(error.kind).toBe('not-found');
    expect(error.detail).toContain('template 7 in prompt-mixes/bad-template.yaml (key label.7) does not exist in prompt-templates/svamp.yaml');
    expect(error.detail).toContain('its ids: 1, 2, 3');
    expect(error.location).toEqual({ file: path.join(root, 'prompt-mixes', 'bad-template.yaml'), key: 'label.7', line: 4 });
  });

  test('a mix id with no file says where it looked', () => {
    const error = thrownBy(() => loadMix(workspace, '404'));
    expect(error.kind).toBe('not-found');
    expect(error.message).toBe(`no prompt mix "404": looked for prompt-mixes/404.yaml in ${root}, ${path.join(DATA_ROOT, 'zero-shot')}`);
  });

  test('a mix id that is not a file name is a usage error', () => {
    expect(thrownBy(() => loadMix(workspace, '../prompt-templates/cqa')).kind).toBe('usage');
    expect(thrownBy(() => loadMix(workspace, '')).kind).toBe('usage');
  });

  // Runs last in this block: loading (and failing) wrote nothing beside the test's own files.
  test('nothing but the test files was written to the workspace', () => {
    expect(written.length).toBeGreaterThan(15);
    expect(listFiles(root)).toEqual([...written].sort());
  });
});
