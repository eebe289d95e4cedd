import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { loadSplit } from './datasets';
import { getTask } from './tasks';

describe('the four tasks load with the prompt values the study’s templates expect', () => {
  test('cqa: question, choice_a..choice_e; gold = the answer text; CoS-E rationale', () => {
    const split = loadSplit(getTask('cqa'), 'test', [DATA_ROOT]);
    expect(split.rows).toHaveLength(1221);
    expect(split.rows[0]).toEqual({
      index: 0,
      promptValues: {
        question: 'A beaver is know for building prowess, their supplies come from where?',
        choice_a: 'british columbia',
        choice_b: 'body of water',
        choice_c: 'wooded area',
        choice_d: 'pay debts',
        choice_e: 'zoo',
      },
      goldLabel: 'wooded area',
      humanRationale: 'Wooden area is only the place for the beaver supplies.',
    });
  });

  test('svamp: question = the input; gold = the equation', () => {
    const row = loadSplit(getTask('svamp'), 'test', [DATA_ROOT]).rows[0];
    expect(row.promptValues.question).toMatch(/^Paige was helping her mom plant flowers/);
    expect(row.goldLabel).toBe('( 10.0 * 45.0 )');
  });

  test('anli1: premise, hypothesis and the label as text', () => {
    const split = loadSplit(getTask('anli1'), 'valid', [DATA_ROOT]);
    expect(split.rows).toHaveLength(1000);
    const labels = new Set(split.rows.map((row) => row.goldLabel));
    expect([...labels].sort()).toEqual(['contradiction', 'entailment', 'neutral']);
    expect(split.rows[0].promptValues.label).toBe(split.rows[0].goldLabel);
  });

  test('esnli: the first human explanation is the rationale', () => {
    const row = loadSplit(getTask('esnli'), 'test', [DATA_ROOT]).rows[0];
    expect(row).toMatchObject({ goldLabel: 'neutral', humanRationale: 'Not all churches have cracks in the ceiling' });
  });

  test('a split that is not shipped says where it looked', () => {
    expect(() => loadSplit(getTask('anli1'), 'train', [DATA_ROOT])).toThrow(/no "train" split for task "anli1": expected datasets\/anli1\/anli1_train\.json/);
  });
});

describe('a generic JSON Lines task of the user’s own', () => {
  const root = temporaryDirectory();
  writeFile(
    path.join(root, 'datasets', 'sentiment', 'sentiment_train.jsonl'),
    '{"input": "great film", "label": "Positive", "rationale": "praise"}\n{"input": "dull", "label": 0}\n',
  );

  test('is found by name, with its splits', () => {
    expect(getTask('sentiment', [root])).toMatchObject({ name: 'sentiment', kind: 'generic', splits: ['train'] });
  });

  test('rows give input and label as prompt values', () => {
    const rows = loadSplit(getTask('sentiment', [root]), 'train', [root]).rows;
    expect(rows[0]).toEqual({ index: 0, promptValues: { input: 'great film', label: 'Positive' }, goldLabel: 'Positive', humanRationale: 'praise' });
    expect(rows[1]).toMatchObject({ goldLabel: '0', humanRationale: null });
  });

  test('an unknown task name explains both options', () => {
    expect(() => getTask('nosuch', [root])).toThrow(
      /unknown task "nosuch"; expected one of cqa, svamp, anli1, esnli, or a task of your own as datasets\/nosuch\/nosuch_<split>\.jsonl/,
    );
  });
});

describe('bad dataset lines name the file, line and field', () => {
  const root = temporaryDirectory();
  const load = (lines: string) => {
    writeFile(path.join(root, 'datasets', 'mine', 'mine_train.jsonl'), lines);
    return () => loadSplit(getTask('mine', [root]), 'train', [root]);
  };

  test('a line that is not JSON', () => {
    expect(load('{"input": "a", "label": "b"}\n{"input": oops}\n')).toThrow(/mine_train\.jsonl:2: line is not valid JSON/);
  });

  test('a line without a required field', () => {
    expect(load('{"input": "a", "label": "b"}\n{"input": "c"}\n')).toThrow(/mine_train\.jsonl:2, key label: missing field "label"/);
  });

  test('a field of the wrong type', () => {
    expect(load('{"input": 3, "label": "b"}\n')).toThrow(/mine_train\.jsonl:1, key input: expected "input" to be a string, got 3/);
  });

  test('a torn last line', () => {
    expect(load('{"input": "a", "label": "b"}\n{"input": "c", "la')).toThrow(/mine_train\.jsonl:2: last line is incomplete/);
  });

  test('an empty split is an error naming the file, not a run over nothing', () => {
    expect(load('')).toThrow(/mine_train\.jsonl: the "train" split of task "mine" has no rows/);
    expect(load('\n\n')).toThrow(/has no rows/);
  });

  test('bytes that are not UTF-8 are refused with file:line, not sent as U+FFFD', () => {
    const bad = Buffer.concat([Buffer.from('{"input": "a", "label": "b"}\n{"input": "caf'), Buffer.from([0xe9]), Buffer.from('", "label": "b"}\n')]);
    const file = writeFile(path.join(root, 'datasets', 'latin', 'latin_train.jsonl'), '');
    fs.writeFileSync(file, bad);
    expect(() => loadSplit(getTask('latin', [root]), 'train', [root])).toThrow(/latin_train\.jsonl:2: line is not valid UTF-8/);
    // The same text saved as UTF-8 loads.
    fs.writeFileSync(file, '{"input": "a", "label": "b"}\n{"input": "café", "label": "b"}\n');
    expect(loadSplit(getTask('latin', [root]), 'train', [root]).rows[1].promptValues.input).toBe('café');
  });

  test('an NLI label out of range', () => {
    const nliRoot = temporaryDirectory();
    writeFile(path.join(nliRoot, 'datasets', 'anli1', 'anli1_valid.json'), '{"premise": "p", "hypothesis": "h", "label": 3}\n');
    expect(() => loadSplit(getTask('anli1'), 'valid', [nliRoot])).toThrow(
      /anli1_valid\.json:1, key label: expected "label" to be 0 \(entailment\), 1 \(neutral\) or 2 \(contradiction\), got 3/,
    );
  });
});
