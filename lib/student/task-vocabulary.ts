import * as fs from 'node:fs';
import { ZsdError } from '../core/errors';
import { loadT5Tokenizer, parseT5Tokenizer, type T5Tokenizer } from './tokenizer';
import { defaultTaskPrefixes, rationaleSourceNames } from './batches';
import { type StudentExample } from './student-examples';

/**
 * A task vocabulary: the T5 SentencePiece vocabulary pruned to the pieces a task's training text uses, so that a
 * student trained from scratch has a small embedding and vocabulary projection (svamp: about 3k rows instead of
 * 32128; the projection is most of a tiny model's step time and parameters).
 *
 * The pruned file is a valid tokenizer.json of the same Unigram model. It keeps
 * - `<pad>`, `</s>`, `<unk>` at ids 0, 1, 2 (T5 starts decoding from `<pad>`),
 * - every piece the training text encodes to,
 * - every single-character piece (with and without the `▁` word marker), so unseen words still segment into
 *   known pieces instead of `<unk>`,
 * - the lowest-scoring piece, because the Unigram model scores an unknown character relative to the lowest
 *   score in the vocabulary.
 * Viterbi on a subset that still holds the best segmentation finds that segmentation, and the unknown score is
 * unchanged, so every training text encodes to the same pieces as with the full vocabulary (tested).
 * Pieces keep their original order; ids are renumbered densely. `<extra_id_N>` sentinels are dropped.
 */
export interface TaskVocabulary {
  /** The pruned tokenizer.json, as text. */
  tokenizerJson: string;
  tokenizer: T5Tokenizer;
  /** Entries of the pruned vocabulary (the student's vocab_size). */
  size: number;
  /** Entries of the full vocabulary. */
  fullSize: number;
}

const SPECIAL_PIECES = ['<pad>', '</s>', '<unk>'];
const WORD_MARKER = '\u2581';

interface UnigramFile {
  added_tokens: { id: number; content: string }[];
  post_processor: { special_tokens: Record<string, { ids: number[] }> };
  model: { unk_id: number; vocab: [string, number][] };
}

export function buildTaskVocabulary(baseTokenizerFile: string, texts: Iterable<string>): TaskVocabulary {
  const base = loadT5Tokenizer(baseTokenizerFile);
  const json = JSON.parse(fs.readFileSync(baseTokenizerFile, 'utf8')) as UnigramFile;
  const vocab = json.model.vocab;
  SPECIAL_PIECES.forEach((piece, id) => {
    if (vocab[id]?.[0] !== piece) {
      throw new ZsdError('invalid-file', `a task vocabulary needs ${piece} at id ${id} (the T5 layout), found ${vocab[id]?.[0]}`, {
        file: baseTokenizerFile,
        key: 'model.vocab',
      });
    }
  });

  const used = new Set<number>([0, 1, 2]);
  for (const text of texts) for (const id of base.encode(text)) used.add(id);
  let lowest = SPECIAL_PIECES.length;
  vocab.forEach(([piece, score], id) => {
    const characters = [...(piece.startsWith(WORD_MARKER) && piece.length > 1 ? piece.slice(1) : piece)];
    if (characters.length === 1) used.add(id);
    if (score < vocab[lowest][1]) lowest = id;
  });
  used.add(lowest);

  const kept = [...used].filter((id) => id < vocab.length).sort((a, b) => a - b);
  const newIdByPiece = new Map(kept.map((id, newId) => [vocab[id][0], newId]));
  const pruned: UnigramFile = {
    ...json,
    added_tokens: json.added_tokens
      .filter((token) => newIdByPiece.has(token.content))
      .map((token) => ({ ...token, id: newIdByPiece.get(token.content) as number })),
    post_processor: {
      ...json.post_processor,
      special_tokens: Object.fromEntries(
        Object.entries(json.post_processor.special_tokens).map(([name, entry]) => [
          name,
          { ...entry, ids: entry.ids.map((id) => newIdByPiece.get(vocab[id][0]) as number) },
        ]),
      ),
    },
    model: { ...json.model, unk_id: newIdByPiece.get('<unk>') as number, vocab: kept.map((id) => vocab[id]) },
  };
  const tokenizerJson = `${JSON.stringify(pruned)}\n`;
  return { tokenizerJson, tokenizer: parseT5Tokenizer(pruned, `task vocabulary of ${baseTokenizerFile}`), size: kept.length, fullSize: vocab.length };
}

/** The text a student trains on: task prefixes, inputs, labels and rationales. */
export function studentTrainingTexts(examples: readonly StudentExample[]): string[] {
  const prefixes = defaultTaskPrefixes(rationaleSourceNames(examples));
  const texts = [prefixes.predict, ...Object.values(prefixes.explain)];
  for (const example of examples) {
    texts.push(example.input, example.label);
    for (const rationale of example.rationales) if (rationale.text !== null) texts.push(rationale.text);
  }
  return texts;
}
