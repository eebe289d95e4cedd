import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_ROOT, listFiles, runCli, temporaryDirectory, writeFile } from '../test-support/fixtures';

describe('zsd --help', () => {
  test('lists every subcommand', () => {
    const result = runCli(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/evaluate/);
    expect(result.stdout).toMatch(/demo/);
  });

  test.each([['evaluate'], ['study'], ['demo']])('%s --help documents its options', (command) => {
    const result = runCli([command, '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/--workspace <dir>/);
    expect(result.stdout).toMatch(/--data <dir>/);
  });
});

test('replay-server --help documents its options, fake-openai is its alias, and fault injection is not a product flag', () => {
  const help = runCli(['replay-server', '--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/--replay <dir\.\.\.>/);
  const alias = runCli(['fake-openai', '--help']);
  expect(alias.status).toBe(0);
  expect(alias.stdout).toBe(help.stdout);
  const faults = runCli(['replay-server', '--faults', 'rate-limit:1']);
  expect(faults.status).toBe(2);
  expect(faults.stderr).toMatch(/unknown option '--faults'/);
});

describe('zsd evaluate', () => {
  test('--json prints only a JSON object keyed by template id, with the documented fields', () => {
    const result = runCli(['evaluate', '--task', 'svamp', '--split', 'test', '--json']);
    expect(result.status).toBe(0);
    const object = JSON.parse(result.stdout);
    expect(Object.keys(object).sort()).toEqual(['1', '2', '3']);
    expect(Object.keys(object['1'])).toEqual(
      expect.arrayContaining([
        'accuracy',
        'n_correct',
        'n_wrong',
        'n_parse_errors',
        'n_none_responses',
        'total_responses',
        'explanation_rate',
        'avg_len_of_explanations',
        'avg_nr_of_words',
        'avg_nr_of_sentences',
        'variance_length_of_explanations',
        'flesch_reading_ease',
      ]),
    );
    expect(object['1'].accuracy).toBeCloseTo(0.72, 3);
    expect(object['3'].accuracy).toBeCloseTo(0.731, 3);
  });

  test('--teacher palm reports under "palm"', () => {
    const result = runCli(['evaluate', '--task', 'esnli', '--split', 'test', '--teacher', 'palm', '--json']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).palm.accuracy).toBeCloseTo(0.7299, 4);
  });

  test('the table is sorted by accuracy and names the best template', () => {
    const result = runCli(['evaluate', '--task', 'svamp', '--split', 'test']);
    expect(result.status).toBe(0);
    const templateColumn = result.stdout
      .split('\n')
      .slice(3)
      .map((line) => line.split(/\s+/)[0])
      .filter((cell) => /^\d+$/.test(cell));
    expect(templateColumn).toEqual(['3', '2', '1']);
    expect(result.stdout).toMatch(/best: template 3 \(accuracy 0\.7308\)/);
  });

  test('the train split writes prompt metadata into the workspace, in the study’s schema', () => {
    const workspace = temporaryDirectory();
    const result = runCli(['evaluate', '--task', 'cqa', '--split', 'train', '--templates', '1,2', '--workspace', workspace]);
    expect(result.status).toBe(0);
    const text = fs.readFileSync(path.join(workspace, 'prompt-metadata', 'cqa.yaml'), 'utf8');
    expect(text).toMatch(/^1:\n {2}characteristics:\n/);
    expect(text).toMatch(/\n {2}performance:\n {4}accuracy: [\d.]+\n {4}n_correct: \d+\n {4}n_wrong: \d+\n/);
  });

  test('--no-write writes nothing', () => {
    const workspace = temporaryDirectory();
    expect(runCli(['evaluate', '--task', 'cqa', '--split', 'train', '--templates', '1', '--workspace', workspace, '--no-write']).status).toBe(0);
    expect(listFiles(workspace)).toEqual([]);
  });

  test('without gold labels accuracy is null and the table says why', () => {
    const json = runCli(['evaluate', '--task', 'anli1', '--split', 'train', '--templates', '1,2', '--json', '--no-write']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)['1']).toMatchObject({ accuracy: null, n_correct: null, n_parse_errors: 0, total_responses: 125 });
    const table = runCli(['evaluate', '--task', 'anli1', '--split', 'train', '--templates', '1', '--no-write']);
    expect(table.stdout).toMatch(/accuracy unavailable: no gold labels/);
  });

  test('a workspace inside the data root is never written to', () => {
    const before = listFiles(path.join(DATA_ROOT, 'zero-shot')).length;
    const result = runCli(['evaluate', '--task', 'svamp', '--split', 'train', '--workspace', path.join(DATA_ROOT, 'zero-shot')]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/not writing prompt metadata: the workspace .* is inside the read-only data root/);
    expect(listFiles(path.join(DATA_ROOT, 'zero-shot')).length).toBe(before);
  });
});

describe('bad input: a clear message, a non-zero exit, nothing written', () => {
  function failing(args: string[], workspace: string, message: RegExp, status = 1) {
    const result = runCli([...args, '--workspace', workspace]);
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(status);
    expect(listFiles(path.join(workspace, 'prompt-metadata'))).toEqual([]);
    return result;
  }

  test('an unknown task', () => {
    failing(['evaluate', '--task', 'nosuch', '--split', 'train'], temporaryDirectory(), /zsd: error: unknown task "nosuch"/);
  });

  test('a split the task does not have', () => {
    failing(['evaluate', '--task', 'cqa', '--split', 'valid'], temporaryDirectory(), /--split valid is not a split of cqa; expected one of train, test/, 2);
  });

  test('template ids that are not numbers', () => {
    failing(['evaluate', '--task', 'cqa', '--split', 'train', '--templates', 'one'], temporaryDirectory(), /expected comma-separated template ids/, 2);
  });

  test('an unknown template id', () => {
    failing(['evaluate', '--task', 'cqa', '--split', 'train', '--templates', '9999'], temporaryDirectory(), /no template with id 9999/);
  });

  test('a data root that does not exist', () => {
    failing(
      ['evaluate', '--task', 'cqa', '--split', 'train', '--data', '/nonexistent/zsd'],
      temporaryDirectory(),
      /data root \/nonexistent\/zsd \(from --data\) is not a directory/,
    );
  });

  test('a broken YAML template file', () => {
    const workspace = temporaryDirectory();
    writeFile(path.join(workspace, 'prompt-templates', 'cqa.yaml'), 'templates:\n  1: {id: 1\n  2: x\n');
    failing(['evaluate', '--task', 'cqa', '--split', 'train'], workspace, /prompt-templates\/cqa\.yaml:\d+: broken YAML/);
  });

  test('a parse pattern that does not compile', () => {
    const workspace = temporaryDirectory();
    writeFile(
      path.join(workspace, 'prompt-templates', 'cqa.yaml'),
      "templates:\n  1:\n    id: 1\n    system_message: ''\n    user_message: '{question}'\n    label_parse: '([a-e]\\)'\n    explanation_parse: ''\n",
    );
    failing(
      ['evaluate', '--task', 'cqa', '--split', 'train'],
      workspace,
      /cqa\.yaml:6, key templates\.1\.label_parse: label_parse is not a valid regular expression/,
    );
  });

  test('a placeholder in the parse pattern with no value in the responses', () => {
    const workspace = temporaryDirectory();
    writeFile(
      path.join(workspace, 'prompt-templates', 'cqa.yaml'),
      "templates:\n  1:\n    id: 1\n    system_message: ''\n    user_message: '{question}'\n    label_parse: '({choice_f})'\n    explanation_parse: ''\n",
    );
    failing(
      ['evaluate', '--task', 'cqa', '--split', 'train', '--templates', '1'],
      workspace,
      /placeholder \{choice_f\} has no value; this row provides \{question\}, \{choice_a\}/,
    );
  });

  test('an empty responses file', () => {
    const workspace = temporaryDirectory();
    writeFile(path.join(workspace, 'query-results', 'svamp', 'train', '1', 'responses.json'), '');
    failing(['evaluate', '--task', 'svamp', '--split', 'train'], workspace, /query-results\/svamp\/train\/1\/responses\.json: responses file is empty/);
  });

  test('a torn last line in a responses file', () => {
    const workspace = temporaryDirectory();
    const line = JSON.stringify({
      split: 'train',
      idx: 0,
      prompt_template_id: 1,
      prompt_values: { question: 'q' },
      complete_prompt: '\nq',
      response: 'It is 5 apples in all, so 5.',
    });
    writeFile(path.join(workspace, 'query-results', 'svamp', 'train', '1', 'responses.json'), `${line}\n{"split": "train", "idx": 1, "prom`);
    failing(['evaluate', '--task', 'svamp', '--split', 'train'], workspace, /responses\.json:2: last line is incomplete/);
  });

  test('a response line that lacks a field', () => {
    const workspace = temporaryDirectory();
    writeFile(
      path.join(workspace, 'query-results', 'svamp', 'train', '1', 'responses.json'),
      '{"split": "train", "idx": 0, "prompt_template_id": 1, "prompt_values": {}}\n',
    );
    failing(
      ['evaluate', '--task', 'svamp', '--split', 'train'],
      workspace,
      /responses\.json:1, key response: expected "response" to be a string, got undefined/,
    );
  });

  test('a dataset line that is not JSON', () => {
    const workspace = temporaryDirectory();
    writeFile(path.join(workspace, 'datasets', 'mine', 'mine_train.jsonl'), '{"input": "a", "label": "b"}\nnot json\n');
    writeFile(
      path.join(workspace, 'prompt-templates', 'mine.yaml'),
      "templates:\n  1:\n    id: 1\n    system_message: ''\n    user_message: '{input}'\n    label_parse: '(yes|no)'\n    explanation_parse: '.?(.*)'\n",
    );
    writeFile(
      path.join(workspace, 'query-results', 'mine', 'train', '1', 'responses.json'),
      `${JSON.stringify({ split: 'train', idx: 0, prompt_template_id: 1, prompt_values: { input: 'a' }, complete_prompt: '\na', response: 'yes' })}\n`,
    );
    failing(['evaluate', '--task', 'mine', '--split', 'train'], workspace, /mine_train\.jsonl:2: line is not valid JSON/);
  });
});

describe('a task of the user’s own, end to end', () => {
  test('generic JSON Lines data, own template, own responses: accuracy and explanations', () => {
    const workspace = temporaryDirectory();
    writeFile(
      path.join(workspace, 'datasets', 'sentiment', 'sentiment_test.jsonl'),
      [
        '{"input": "A wonderful film.", "label": "positive"}',
        '{"input": "Dull and slow.", "label": "negative"}',
        '{"input": "Fine.", "label": "Positive"}',
      ].join('\n') + '\n',
    );
    writeFile(
      path.join(workspace, 'prompt-templates', 'sentiment.yaml'),
      "templates:\n  1:\n    id: 1\n    system_message: 'Classify the sentiment.'\n    user_message: '{input}'\n    label_parse: '(positive|negative)'\n    explanation_parse: '.?(.*)'\n",
    );
    const responses = [
      [0, 'Positive. The reviewer calls the film wonderful, which is clear praise.'],
      [1, 'Negative: the words dull and slow are complaints about the film.'],
      [2, 'Negative.'],
    ].map(([idx, response]) => JSON.stringify({ split: 'test', idx, prompt_template_id: 1, prompt_values: { input: 'x' }, complete_prompt: 'x', response }));
    writeFile(path.join(workspace, 'query-results', 'sentiment', 'test', '1', 'responses.json'), `${responses.join('\n')}\n`);
    const result = runCli(['evaluate', '--task', 'sentiment', '--split', 'test', '--json', '--workspace', workspace]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)['1']).toMatchObject({ n_correct: 2, n_wrong: 1, n_parse_errors: 0, n_none_responses: 1, total_responses: 2 });
  });
});
