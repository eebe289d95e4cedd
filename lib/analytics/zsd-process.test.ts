import { isZsdError } from '../core/errors';
import { DATA_ROOT, thrownBy } from '../test-support/fixtures';
import { bestTemplateOf, lastLines, runZsd, zsdCommandLine } from './zsd-process';

describe('running the zsd CLI from a notebook', () => {
  test('the command line as a person types it: plain arguments bare, others quoted', () => {
    expect(zsdCommandLine(['train', '--task', 'svamp', '--lr', '5e-05', '--base-url', 'http://127.0.0.1:8787/v1'])).toBe('zsd train --task svamp --lr 5e-05 --base-url http://127.0.0.1:8787/v1');
    expect(zsdCommandLine(['query', '--note', "it's two words"])).toBe(`zsd query --note 'it'\\''s two words'`);
  });

  test('the built CLI runs in a child process; its output and status come back', async () => {
    const run = await runZsd(['evaluate', '--task', 'svamp', '--split', 'test', '--templates', '1', '--json', '--data', DATA_ROOT]);
    expect(run.status).toBe(0);
    expect(run.command).toBe(`zsd evaluate --task svamp --split test --templates 1 --json --data ${DATA_ROOT}`);
    expect(JSON.parse(run.stdout)['1'].accuracy).toBeCloseTo(0.72, 3);
  }, 60_000);

  test('a failing command rejects with the command and the end of its stderr; check: false resolves instead', async () => {
    const args = ['evaluate', '--task', 'no-such-task', '--split', 'test', '--data', DATA_ROOT];
    const error = await runZsd(args).catch((caught: unknown) => caught);
    expect(isZsdError(error) && error.kind).toBe('incomplete');
    expect(String(error)).toMatch(/zsd evaluate --task no-such-task .* exited with [1-9]/);
    expect(String(error)).toMatch(/unknown task "no-such-task"/);
    const unchecked = await runZsd(args, { check: false });
    expect(unchecked.status).not.toBe(0);
  }, 60_000);

  test('the best template of an experiment, from its "best template:" line', () => {
    expect(bestTemplateOf({ command: 'zsd experiment', stdout: 'template  accuracy\n2  0.9\nbest template: 2 (accuracy 0.9000)\n' })).toBe(2);
    const error = thrownBy(() => bestTemplateOf({ command: 'zsd experiment --task svamp', stdout: 'not every row was answered\n' }));
    expect(String(error)).toMatch(/zsd experiment --task svamp named no best template/);
  });

  test('lastLines keeps the last non-empty lines', () => {
    expect(lastLines('a\n\nb\nc\n\n', 2)).toBe('b\nc');
  });
});
