import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError } from '../core/errors';

/**
 * The T5 tokenizer, reimplemented from a Hugging Face `tokenizer.json` so that ids equal what
 * `tokenizers` (and transformers' T5TokenizerFast) produce. The pipeline, in HF's order:
 *
 * 1. added tokens (`<pad>`, `</s>`, `<unk>`, `<extra_id_N>`; none normalized) are cut out of the raw text,
 *    leftmost-longest;
 * 2. each remaining segment goes through the `Precompiled` normalizer (SentencePiece's nmt_nfkc charsmap);
 * 3. pre-tokenizers: WhitespaceSplit, then Metaspace (▁ prepended to every word, split before each ▁);
 * 4. the Unigram model: Viterbi best segmentation of each word, unknown characters fused into one `<unk>`;
 * 5. `</s>` appended.
 *
 * HF quirks kept on purpose (the fixture in fixtures/tokenizer-ids.json proves them against the real library):
 * - the normalizer replaces a grapheme by the replacement of the SHORTEST charsmap key that prefixes it, so
 *   "A\u0302\u0300" becomes "Â" (the grave accent is lost), where SentencePiece itself takes the longest key;
 * - the Unigram vocabulary includes the special pieces, so text that normalizes to "</s>" (full-width "＜/s＞")
 *   encodes to id 1 just as in HF;
 * - decoding drops every ▁ of the first token rather than one leading space.
 */

export interface EncodeBatchOptions {
  /** Needed for truncation and for `padding: 'max_length'`; counts the final `</s>`. */
  maxLength?: number;
  /** No padding when absent; otherwise right padding with `padId` up to the longest row or `maxLength`. */
  padding?: 'longest' | 'max_length';
  /** Keep the first `maxLength - 1` tokens, then `</s>` (HF's truncation of a single sequence). */
  truncation?: boolean;
}

export interface BatchEncoding {
  inputIds: number[][];
  /** 1 on tokens (the `</s>` included), 0 on padding. */
  attentionMask: number[][];
}

export interface DecodeOptions {
  /** Drop `<pad>`, `</s>`, `<unk>` and `<extra_id_N>` (HF `skip_special_tokens`). Default true. */
  skipSpecialTokens?: boolean;
  /**
   * transformers' `clean_up_tokenization_spaces` (T5's tokenizer_config.json sets it): " ." -> ".", " n't" -> "n't",
   * and the like, applied after decoding as `batch_decode` does. Default false (the tokenizers library's decode).
   */
  cleanUpTokenizationSpaces?: boolean;
}

/** transformers' `clean_up_tokenization`, replacement for replacement. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

export interface T5Tokenizer {
  /** Entries of the tokenizer (32100 for T5); the T5 models' embedding has 32128 rows, the last 28 unnamed. */
  readonly vocabSize: number;
  readonly padId: number;
  readonly eosId: number;
  readonly unkId: number;
  /** Token ids of the text followed by `</s>`, like HF `tokenizer(text).input_ids`. */
  encode(text: string): number[];
  encodeBatch(texts: readonly string[], options?: EncodeBatchOptions): BatchEncoding;
  /** The pieces the text encodes to (before `</s>`), as HF's `encoding.tokens`: an unknown run shows its own text. */
  tokenize(text: string): string[];
  /** The text as the `Precompiled` normalizer leaves it (added tokens are not cut out first). */
  normalize(text: string): string;
  /** HF `decode`: ids unknown to the vocabulary are skipped, as HF does (T5 models can emit ids 32100..32127). */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  idToPiece(id: number): string | undefined;
  pieceToId(piece: string): number | undefined;
}

/** Where the T5 vocabulary lives below the data root (see `resolveDataRoot` in core/paths). */
export function t5TokenizerFile(dataRoot: string): string {
  return path.join(dataRoot, 'tokenizers', 't5', 'tokenizer.json');
}

// ---------------------------------------------------------------------------------------------------------------
// tokenizer.json: only the shape this implementation reproduces is accepted.

const addedTokenSchema = z.object({
  id: z.number().int().nonnegative(),
  content: z.string().min(1),
  single_word: z.literal(false),
  lstrip: z.literal(false),
  rstrip: z.literal(false),
  normalized: z.literal(false),
  special: z.boolean(),
});

const metaspaceSchema = z.object({
  type: z.literal('Metaspace'),
  replacement: z.string().length(1),
  add_prefix_space: z.literal(true).optional(),
  prepend_scheme: z.literal('always').optional(),
  split: z.literal(true).optional(),
});

const tokenizerFileSchema = z.object({
  added_tokens: z.array(addedTokenSchema),
  normalizer: z.object({ type: z.literal('Precompiled'), precompiled_charsmap: z.string().min(1) }),
  pre_tokenizer: z.object({
    type: z.literal('Sequence'),
    pretokenizers: z.tuple([z.object({ type: z.literal('WhitespaceSplit') }), metaspaceSchema]),
  }),
  post_processor: z.object({
    type: z.literal('TemplateProcessing'),
    single: z.tuple([z.object({ Sequence: z.object({ id: z.literal('A') }) }), z.object({ SpecialToken: z.object({ id: z.string() }) })]),
    special_tokens: z.record(z.string(), z.object({ ids: z.tuple([z.number().int()]) })),
  }),
  decoder: metaspaceSchema,
  model: z.object({
    type: z.literal('Unigram'),
    unk_id: z.number().int().nonnegative(),
    vocab: z.array(z.tuple([z.string(), z.number()])).min(1),
    byte_fallback: z.literal(false).optional(),
  }),
});

type TokenizerFile = z.infer<typeof tokenizerFileSchema>;

export function loadT5Tokenizer(file: string): T5Tokenizer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ZsdError('not-found', 'no tokenizer file (expected a Hugging Face tokenizer.json)', { file });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ZsdError('invalid-file', `not valid JSON: ${(error as Error).message}`, { file });
  }
  return parseT5Tokenizer(json, file);
}

/** A tokenizer from parsed tokenizer.json content; `file` names it in errors. */
export function parseT5Tokenizer(json: unknown, file: string): T5Tokenizer {
  const parsed = tokenizerFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZsdError('invalid-file', `${issue.message} (this tokenizer supports the T5 SentencePiece Unigram layout only)`, {
      file,
      key: issue.path.map(String).join('.') || undefined,
    });
  }
  return new HuggingFaceT5Tokenizer(parsed.data, file);
}

// ---------------------------------------------------------------------------------------------------------------

class HuggingFaceT5Tokenizer implements T5Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly eosId: number;
  readonly unkId: number;
  private readonly pieces: string[];
  private readonly idsByPiece = new Map<string, number>();
  private readonly specialPieces = new Set<string>();
  private readonly addedTokenPattern: RegExp | undefined;
  private readonly normalizer: PrecompiledNormalizer;
  private readonly model: UnigramModel;
  private readonly replacement: string;
  private readonly wordCache = new Map<string, readonly number[]>();

  constructor(config: TokenizerFile, file: string) {
    const vocab = config.model.vocab;
    this.pieces = vocab.map(([piece]) => piece);
    vocab.forEach(([piece], id) => this.idsByPiece.set(piece, id));
    for (const token of config.added_tokens) {
      if (token.id < this.pieces.length && this.pieces[token.id] !== token.content) {
        throw new ZsdError('invalid-file', `added token ${token.content} has id ${token.id}, where the vocabulary has ${this.pieces[token.id]}`, {
          file,
          key: 'added_tokens',
        });
      }
      this.pieces[token.id] = token.content;
      this.idsByPiece.set(token.content, token.id);
      if (token.special) this.specialPieces.add(token.content);
    }
    this.vocabSize = this.pieces.length;
    this.unkId = config.model.unk_id;
    this.padId = this.requiredId('<pad>', file);
    const eosPiece = config.post_processor.single[1].SpecialToken.id;
    const eos = config.post_processor.special_tokens[eosPiece];
    if (!eos) throw new ZsdError('invalid-file', `the post-processor's special token ${eosPiece} is not defined`, { file, key: 'post_processor' });
    this.eosId = eos.ids[0];

    if (config.added_tokens.length > 0) {
      // Longest first, so that at any position the regex prefers the longest token: HF's leftmost-longest match.
      const alternatives = config.added_tokens
        .map((token) => token.content)
        .sort((a, b) => b.length - a.length)
        .map((content) => content.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      this.addedTokenPattern = new RegExp(alternatives.join('|'), 'g');
    }
    this.replacement = config.pre_tokenizer.pretokenizers[1].replacement;
    this.normalizer = new PrecompiledNormalizer(Buffer.from(config.normalizer.precompiled_charsmap, 'base64'), file);
    // zod infers an optional-element tuple when strictNullChecks is off (tslab compiles so); the schema requires both.
    this.model = new UnigramModel(vocab as unknown as readonly (readonly [string, number])[], this.unkId, this.idsByPiece);
  }

  private requiredId(piece: string, file: string): number {
    const id = this.idsByPiece.get(piece);
    if (id === undefined) throw new ZsdError('invalid-file', `the vocabulary has no ${piece}`, { file, key: 'model.vocab' });
    return id;
  }

  encode(text: string): number[] {
    const ids = this.encodeWithoutEos(text);
    ids.push(this.eosId);
    return ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    const { maxLength, padding, truncation = false } = options;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
      throw new ZsdError('usage', `maxLength must be a positive integer, got ${maxLength}`);
    }
    if (maxLength === undefined && (truncation || padding === 'max_length')) {
      throw new ZsdError('usage', `${truncation ? 'truncation' : "padding: 'max_length'"} needs maxLength`);
    }
    const inputIds = texts.map((text) => {
      const ids = this.encodeWithoutEos(text);
      if (truncation && maxLength !== undefined && ids.length > maxLength - 1) ids.length = maxLength - 1;
      ids.push(this.eosId);
      return ids;
    });
    const attentionMask = inputIds.map((ids) => ids.map(() => 1));
    if (padding !== undefined) {
      const target = padding === 'max_length' ? (maxLength as number) : inputIds.reduce((longest, ids) => Math.max(longest, ids.length), 0);
      inputIds.forEach((ids, row) => {
        // A row longer than the target stays as it is (HF: padding never truncates).
        for (let position = ids.length; position < target; position++) {
          ids.push(this.padId);
          attentionMask[row].push(0);
        }
      });
    }
    return { inputIds, attentionMask };
  }

  tokenize(text: string): string[] {
    const pieces: string[] = [];
    this.eachSegment(
      text,
      (id) => pieces.push(this.pieces[id]),
      (word) => pieces.push(...this.model.segment(word).map(({ piece }) => piece)),
    );
    return pieces;
  }

  normalize(text: string): string {
    return this.normalizer.normalize(text);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skipSpecialTokens = options.skipSpecialTokens ?? true;
    const kept: string[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id)) throw new ZsdError('usage', `token ids are integers, got ${id}`);
      const piece = id >= 0 ? this.pieces[id] : undefined;
      if (piece === undefined) continue;
      if (skipSpecialTokens && this.specialPieces.has(piece)) continue;
      kept.push(piece);
    }
    // HF's Metaspace decoder: ▁ becomes a space, except in the first token, where every ▁ is dropped.
    const text = kept.map((piece, index) => piece.replaceAll(this.replacement, index === 0 ? '' : ' ')).join('');
    return options.cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
  }

  idToPiece(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.pieces[id] : undefined;
  }

  pieceToId(piece: string): number | undefined {
    return this.idsByPiece.get(piece);
  }

  private encodeWithoutEos(text: string): number[] {
    const ids: number[] = [];
    this.eachSegment(
      text,
      (id) => ids.push(id),
      (word) => {
        for (const id of this.wordIds(word)) ids.push(id);
      },
    );
    return ids;
  }

  /** Walks the text: an added token's id, or each Metaspace word of the normalized text between them. */
  private eachSegment(text: string, onAddedToken: (id: number) => void, onWord: (word: string) => void): void {
    let start = 0;
    if (this.addedTokenPattern && text.includes('<')) {
      this.addedTokenPattern.lastIndex = 0;
      for (const match of text.matchAll(this.addedTokenPattern)) {
        if (match.index > start) this.eachWord(text.slice(start, match.index), onWord);
        onAddedToken(this.idsByPiece.get(match[0]) as number);
        start = match.index + match[0].length;
      }
    }
    if (start < text.length) this.eachWord(start === 0 ? text : text.slice(start), onWord);
  }

  private eachWord(segment: string, onWord: (word: string) => void): void {
    const normalized = this.normalizer.normalize(segment);
    const replacement = this.replacement;
    for (const whitespaceWord of normalized.split(WHITESPACE)) {
      if (whitespaceWord === '') continue;
      // Metaspace: spaces become ▁ (none are left after WhitespaceSplit), ▁ is prepended unless the word starts
      // with one, and the word is split before every ▁ (the ▁ merged with what follows it).
      const word = whitespaceWord.startsWith(replacement) ? whitespaceWord : replacement + whitespaceWord;
      let pieceStart = 0;
      for (let index = word.indexOf(replacement, 1); index !== -1; index = word.indexOf(replacement, index + 1)) {
        onWord(word.slice(pieceStart, index));
        pieceStart = index;
      }
      onWord(pieceStart === 0 ? word : word.slice(pieceStart));
    }
  }

  private wordIds(word: string): readonly number[] {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const ids = this.model.segment(word).map(({ id }) => id);
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(word, ids);
    return ids;
  }
}

const WORD_CACHE_LIMIT = 100_000;

/** Rust's `char::is_whitespace` (Unicode White_Space), which WhitespaceSplit uses; JavaScript's \s differs (U+FEFF, U+0085). */
const WHITESPACE = /[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

// ---------------------------------------------------------------------------------------------------------------
// The Precompiled normalizer: SentencePiece's charsmap, as Hugging Face's spm_precompiled reads it.
//
// Blob layout: uint32 little-endian size of the trie in bytes; the trie, a darts-clone double array of uint32
// units over UTF-8 bytes; then the replacement strings, each NUL-terminated, addressed by the leaf values.

const GRAPHEMES = new Intl.Segmenter('en', { granularity: 'grapheme' });
const STRETCH_CACHE_LIMIT = 50_000;

class PrecompiledNormalizer {
  private readonly units: Uint32Array;
  private readonly replacements: Buffer;
  private readonly replacementCache = new Map<number, string>();
  private readonly stretchCache = new Map<string, string>();
  /** The replacement of each ASCII character on its own (itself when the charsmap has none). */
  private readonly ascii: string[] = [];
  /** True when every ASCII character except CR maps to itself, so pure ASCII text needs no work at all. */
  private readonly asciiIdentity = new Uint8Array(128);
  private readonly scratch = new Uint8Array(8);

  constructor(blob: Buffer, file: string) {
    const where = { file, key: 'normalizer.precompiled_charsmap' };
    if (blob.length < 4) throw new ZsdError('invalid-file', 'the charsmap is shorter than its 4-byte header', where);
    const trieSize = blob.readUInt32LE(0);
    if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) {
      throw new ZsdError('invalid-file', `the charsmap announces a trie of ${trieSize} bytes in a blob of ${blob.length}`, where);
    }
    this.units = new Uint32Array(trieSize / 4);
    for (let index = 0; index < this.units.length; index++) this.units[index] = blob.readUInt32LE(4 + 4 * index);
    this.replacements = blob.subarray(4 + trieSize);
    for (let code = 0; code < 128; code++) {
      const character = String.fromCharCode(code);
      const replaced = this.transform(character);
      this.ascii.push(replaced ?? character);
      this.asciiIdentity[code] = replaced === undefined || replaced === character ? 1 : 0;
    }
  }

  /**
   * HF's `Precompiled::normalize`: grapheme by grapheme; a grapheme shorter than 6 UTF-8 bytes is replaced as a
   * whole when a charsmap key prefixes it, otherwise each of its characters is replaced (or kept) on its own.
   */
  normalize(text: string): string {
    if (this.isUntouchedAscii(text)) return text;
    let output = '';
    const length = text.length;
    let index = 0;
    while (index < length) {
      const code = text.charCodeAt(index);
      const nextCode = index + 1 < length ? text.charCodeAt(index + 1) : 0;
      if (code < 0x80 && nextCode < 0x80) {
        // Two ASCII characters always have a grapheme boundary between them, except CR LF.
        if (code === 0x0d && nextCode === 0x0a && index + 1 < length) {
          output += this.normalizeGrapheme('\r\n');
          index += 2;
        } else {
          output += this.ascii[code];
          index += 1;
        }
        continue;
      }
      // Non-ASCII around here: hand the stretch up to the next ASCII-ASCII boundary to the grapheme segmenter.
      // Those boundaries are hard ones (no grapheme rule looks across two ASCII characters), so segmenting the
      // stretch alone gives the same graphemes as segmenting the whole text.
      let end = index + 1;
      while (end < length) {
        const previous = text.charCodeAt(end - 1);
        const current = text.charCodeAt(end);
        if (previous < 0x80 && current < 0x80 && !(previous === 0x0d && current === 0x0a)) break;
        end++;
      }
      output += this.normalizeStretch(text.slice(index, end));
      index = end;
    }
    return output;
  }

  /** Stretches repeat a lot ("è" inside the same words), and the segmenter costs microseconds a call: cache them. */
  private normalizeStretch(stretch: string): string {
    let output = this.stretchCache.get(stretch);
    if (output === undefined) {
      output = '';
      for (const { segment } of GRAPHEMES.segment(stretch)) output += this.normalizeGrapheme(segment);
      if (this.stretchCache.size >= STRETCH_CACHE_LIMIT) this.stretchCache.clear();
      this.stretchCache.set(stretch, output);
    }
    return output;
  }

  private isUntouchedAscii(text: string): boolean {
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (code >= 0x80 || this.asciiIdentity[code] === 0 || code === 0x0d) return false;
    }
    return true;
  }

  private normalizeGrapheme(grapheme: string): string {
    if (grapheme.length === 1 && grapheme.charCodeAt(0) < 0x80) return this.ascii[grapheme.charCodeAt(0)];
    if (utf8Length(grapheme) < 6) {
      const replaced = this.transform(grapheme);
      if (replaced !== undefined) return replaced;
    }
    let output = '';
    for (const character of grapheme) output += this.transform(character) ?? character;
    return output;
  }

  /**
   * The replacement of the SHORTEST charsmap key that is a prefix of `chunk` (spm_precompiled takes the first
   * result of darts-clone's common-prefix search), or undefined when no key is.
   */
  private transform(chunk: string): string | undefined {
    const units = this.units;
    let nodePosition = 0;
    let unit = units[0];
    nodePosition ^= unitOffset(unit);
    for (const character of chunk) {
      const byteCount = encodeUtf8(character.codePointAt(0) as number, this.scratch);
      for (let byteIndex = 0; byteIndex < byteCount; byteIndex++) {
        const byte = this.scratch[byteIndex];
        if (byte === 0) return undefined; // darts-clone stops at NUL
        nodePosition ^= byte;
        unit = units[nodePosition];
        if (unit === undefined || unitLabel(unit) !== byte) return undefined;
        nodePosition ^= unitOffset(unit);
        if (unitHasLeaf(unit)) return this.replacementAt(unitValue(units[nodePosition]));
      }
    }
    return undefined;
  }

  private replacementAt(offset: number): string {
    let replacement = this.replacementCache.get(offset);
    if (replacement === undefined) {
      let end = offset;
      while (end < this.replacements.length && this.replacements[end] !== 0) end++;
      replacement = this.replacements.toString('utf8', offset, end);
      this.replacementCache.set(offset, replacement);
    }
    return replacement;
  }
}

// darts-clone unit fields.
function unitHasLeaf(unit: number): boolean {
  return ((unit >>> 8) & 1) === 1;
}
function unitValue(unit: number): number {
  return unit & 0x7fffffff;
}
/** The label with the leaf flag (bit 31) kept, so a leaf unit never equals a byte. */
function unitLabel(unit: number): number {
  return (unit & 0x800000ff) >>> 0;
}
function unitOffset(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const code = character.codePointAt(0) as number;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

function encodeUtf8(code: number, into: Uint8Array): number {
  if (code < 0x80) {
    into[0] = code;
    return 1;
  }
  if (code < 0x800) {
    into[0] = 0xc0 | (code >> 6);
    into[1] = 0x80 | (code & 0x3f);
    return 2;
  }
  if (code < 0x10000) {
    into[0] = 0xe0 | (code >> 12);
    into[1] = 0x80 | ((code >> 6) & 0x3f);
    into[2] = 0x80 | (code & 0x3f);
    return 3;
  }
  into[0] = 0xf0 | (code >> 18);
  into[1] = 0x80 | ((code >> 12) & 0x3f);
  into[2] = 0x80 | ((code >> 6) & 0x3f);
  into[3] = 0x80 | (code & 0x3f);
  return 4;
}

// ---------------------------------------------------------------------------------------------------------------
// The Unigram model: HF's `encode_optimized` (SentencePiece's Viterbi), over UTF-16 positions instead of bytes.

/** SentencePiece's penalty below the lowest piece score for an unknown character. */
const UNKNOWN_PENALTY = 10;

interface Segment {
  piece: string;
  id: number;
}

class UnigramModel {
  private readonly scores: Float64Array;
  private readonly unknownScore: number;
  /** Trie over UTF-16 code units: children of node n keyed by n * 65536 + code unit. Node 0 is the root. */
  private readonly children = new Map<number, number>();
  /** The piece id ending at each trie node, or -1. */
  private readonly nodePiece: Int32Array;

  constructor(
    vocab: readonly (readonly [string, number])[],
    private readonly unkId: number,
    private readonly idsByPiece: ReadonlyMap<string, number>,
  ) {
    this.scores = Float64Array.from(vocab, ([, score]) => score);
    let minimum = Infinity;
    for (const [, score] of vocab) minimum = Math.min(minimum, score);
    this.unknownScore = minimum - UNKNOWN_PENALTY;
    const nodePiece: number[] = [-1];
    for (const [piece] of vocab) {
      let node = 0;
      for (let index = 0; index < piece.length; index++) {
        const key = node * 65536 + piece.charCodeAt(index);
        let child = this.children.get(key);
        if (child === undefined) {
          child = nodePiece.length;
          nodePiece.push(-1);
          this.children.set(key, child);
        }
        node = child;
      }
      nodePiece[node] = idsByPiece.get(piece) as number;
    }
    this.nodePiece = Int32Array.from(nodePiece);
  }

  segment(word: string): Segment[] {
    const length = word.length;
    const bestScore = new Float64Array(length + 1);
    const startsAt = new Int32Array(length + 1).fill(-1);
    const bestId = new Int32Array(length + 1);
    let start = 0;
    while (start < length) {
      const scoreHere = bestScore[start];
      const code = word.charCodeAt(start);
      const characterLength = code >= 0xd800 && code < 0xdc00 && start + 1 < length && (word.charCodeAt(start + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let hasSingleCharacterPiece = false;
      // Every piece that starts here, shortest first; a later candidate wins only when strictly better.
      let node = 0;
      for (let end = start; end < length; end++) {
        const child = this.children.get(node * 65536 + word.charCodeAt(end));
        if (child === undefined) break;
        node = child;
        const id = this.nodePiece[node];
        if (id < 0) continue;
        const candidate = this.scores[id] + scoreHere;
        if (startsAt[end + 1] === -1 || candidate > bestScore[end + 1]) {
          bestScore[end + 1] = candidate;
          startsAt[end + 1] = start;
          bestId[end + 1] = id;
        }
        if (end + 1 - start === characterLength) hasSingleCharacterPiece = true;
      }
      if (!hasSingleCharacterPiece) {
        const target = start + characterLength;
        const candidate = this.unknownScore + scoreHere;
        if (startsAt[target] === -1 || candidate > bestScore[target]) {
          bestScore[target] = candidate;
          startsAt[target] = start;
          bestId[target] = this.unkId;
        }
      }
      start += characterLength;
    }
    // Back from the end; consecutive unknown pieces are fused into one (HF's fuse_unk), whose id is looked up
    // like any piece: <unk> unless the fused text happens to be a piece.
    const segments: Segment[] = [];
    let end = length;
    let unknownEnd = -1;
    while (end > 0) {
      const from = startsAt[end];
      if (bestId[end] === this.unkId) {
        if (unknownEnd === -1) unknownEnd = end;
      } else {
        if (unknownEnd !== -1) {
          segments.push(this.pieceSegment(word.slice(end, unknownEnd)));
          unknownEnd = -1;
        }
        segments.push({ piece: word.slice(from, end), id: bestId[end] });
      }
      end = from;
    }
    if (unknownEnd !== -1) segments.push(this.pieceSegment(word.slice(0, unknownEnd)));
    return segments.reverse();
  }

  private pieceSegment(text: string): Segment {
    return { piece: text, id: this.idsByPiece.get(text) ?? this.unkId };
  }
}
