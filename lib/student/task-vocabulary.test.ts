import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { buildTaskVocabulary, studentTrainingTexts } from './task-vocabulary';
import { loadT5Tokenizer, t5TokenizerFile, type T5Tokenizer } from './tokenizer';
import { loadStudentExamples } from './student-examples';

const workspaceRoot = temporaryDirectory('zsd-task-vocabulary-');
const common = {
  dataRoot: DATA_ROOT,
  workspaceRoot,
  task: 'svamp',
  labelSource: 'gold',
  rationaleSources: [{ name: 'palm', weight: 1, source: { kind: 'palm' } }],
} as const;

let full: T5Tokenizer;
beforeAll(() => {
  full = loadT5Tokenizer(t5TokenizerFile(DATA_ROOT));
});

describe('task vocabulary', () => {
  test('svamp train text: a small vocabulary that encodes every training text to the same pieces', () => {
    const train = loadStudentExamples({ ...common, split: 'train' });
    const texts = studentTrainingTexts(train);
    expect(texts).toContain('explain: ');
    const vocabulary = buildTaskVocabulary(t5TokenizerFile(DATA_ROOT), texts);
    expect(vocabulary.fullSize).toBe(32100);
    expect(vocabulary.size).toBeGreaterThan(500);
    expect(vocabulary.size).toBeLessThan(6000);
    expect(vocabulary.tokenizer.vocabSize).toBe(vocabulary.size);
    expect([vocabulary.tokenizer.padId, vocabulary.tokenizer.eosId, vocabulary.tokenizer.unkId]).toEqual([0, 1, 2]);
    for (const text of texts) {
      expect(vocabulary.tokenizer.tokenize(text)).toEqual(full.tokenize(text));
      const ids = vocabulary.tokenizer.encode(text);
      expect(Math.max(...ids)).toBeLessThan(vocabulary.size);
      expect(vocabulary.tokenizer.decode(ids)).toBe(full.decode(full.encode(text)));
    }
  });

  test('unseen text still round-trips through single-character pieces', () => {
    const vocabulary = buildTaskVocabulary(t5TokenizerFile(DATA_ROOT), ['predict: how many apples', '( 3.0 + 4.0 )']);
    expect(vocabulary.size).toBeLessThan(700);
    const unseen = 'Quixotic zebras juggle 17 kumquats; how many remain?';
    const pieces = vocabulary.tokenizer.tokenize(unseen);
    expect(pieces.length).toBeGreaterThan(full.tokenize(unseen).length);
    expect(pieces).not.toContain('<unk>');
    expect(vocabulary.tokenizer.decode(vocabulary.tokenizer.encode(unseen))).toBe(full.decode(full.encode(unseen)));
  });
});
