import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { tryLock, type HeldLock, type LockHolder } from '../core/file-lock';
import { parseJsonLines } from '../core/jsonl';
import { redactSecrets } from '../core/secrets';
import { responseLayers, type Workspace } from '../core/paths';
import { parseResponseLine, responsesFile, STUDY_MODEL, type RecordedResponse } from './recorded-responses';
import { studyCompletePrompt, type SamplingParameters, type TeacherEndpoint, type TeacherRequest } from './request-key';

/**
 * The response store: every teacher answer, on disk before anyone uses it, so nothing is paid twice.
 * Layout and line format are the study's (`query-results/<task>/<split>/<template>/responses.json`) plus
 * model, endpoint, parameters, usage, cost and the request key. Invariants (see README.md in this folder):
 * - append-only; whole lines in one `write`, then `fsync`, before the response is returned to the caller
 *   (`commit` groups the answers that arrive during a write into the next write: group commit);
 * - a lookup hits only when the request key matches; a study line without a key matches on its recorded
 *   `complete_prompt` for the model it was made with (gpt-3.5-turbo);
 * - a torn last line (a crash mid-write) is moved to `responses.json.torn` on the next append, never parsed;
 * - the workspace file is read before the read-only layers (the recorded study); writes go to the workspace only;
 * - every file is read once; lookups are O(1) map hits; `refresh` reads only what another process appended since;
 * - one writer per file across processes: a writer holds `responses.json.lock` (`lockForWriting`, see
 *   core/file-lock.ts) and re-reads the file's tail when it takes the lock and before each request it sends;
 * - no registered secret (API key) is ever written: each line passes through `redactSecrets`.
 */

export interface StoredEntry {
  split: string;
  idx: number;
  prompt_template_id: number;
  prompt_values: Readonly<Record<string, string>>;
  complete_prompt: string;
  response: string;
  model: string;
  endpoint: TeacherEndpoint;
  parameters: SamplingParameters;
  usage: { prompt_tokens: number; completion_tokens: number };
  cost_usd: number;
  key: string;
  created_at: string;
  batch_id?: string;
}

export class ResponseStore {
  private readonly byKey = new Map<string, RecordedResponse>();
  private readonly byStudyPrompt = new Map<string, RecordedResponse>();
  private readonly file: string;
  private repaired = false;
  /** Bytes of the workspace file read so far (whole lines only): `refresh` reads from here. */
  private readBytes = 0;
  private readLines = 0;
  private lock: HeldLock | undefined;
  /** Responses on disk across all layers (first per key). */
  size = 0;

  constructor(
    private readonly workspace: Workspace,
    readonly task: string,
    readonly split: string,
    readonly templateId: number,
  ) {
    this.file = responsesFile(workspace.root, task, split, templateId);
    for (const layer of responseLayers(workspace)) {
      const file = responsesFile(layer, task, split, templateId);
      if (file === this.file) this.refresh();
      else this.load(file);
    }
  }

  /**
   * Reads the lines another process appended to the workspace file since the last read (whole lines only: a line
   * being written, or torn, is read once complete). One `stat` when nothing changed: cheap enough before every request.
   */
  refresh(): void {
    let size: number;
    try {
      size = fs.statSync(this.file).size;
    } catch {
      return;
    }
    if (size < this.readBytes) {
      // Truncated under us (a torn tail moved aside): every complete line we read is still there.
      this.readBytes = Math.min(this.readBytes, size);
      return;
    }
    if (size === this.readBytes) return;
    const handle = fs.openSync(this.file, 'r');
    let bytes: Buffer;
    try {
      bytes = Buffer.alloc(size - this.readBytes);
      const read = fs.readSync(handle, bytes, 0, bytes.length, this.readBytes);
      bytes = bytes.subarray(0, read);
    } finally {
      fs.closeSync(handle);
    }
    // A last line without its newline is indexed when it parses (a complete line that lost its newline), skipped when
    // torn or still being written; either way it is read again next time, until its newline is there.
    const { lines } = parseJsonLines(bytes.toString('utf8'), this.file);
    for (const { line, value } of lines) this.index(parseResponseLine(value, this.file, this.readLines + line));
    const end = bytes.lastIndexOf(0x0a) + 1;
    this.readBytes += end;
    for (let index = 0; index < end; index++) if (bytes[index] === 0x0a) this.readLines++;
  }

  /** Whether this store holds the workspace file's write lock. */
  get holdsLock(): boolean {
    return this.lock?.held === true;
  }

  /**
   * Takes the write lock of the workspace file unless a live process holds it (then: who), and re-reads the tail,
   * so answers the previous holder stored are found before anything is sent.
   */
  lockForWriting(command?: string): { acquired: true } | { acquired: false; holder: LockHolder; file: string } {
    if (this.holdsLock) return { acquired: true };
    if (this.workspace.readOnly) throw new ZsdError('read-only', `refusing to write responses below the read-only data root: ${this.file}`);
    const attempt = tryLock(this.file, command);
    if (!attempt.acquired) return attempt;
    this.lock = attempt.lock;
    // The previous holder may have been killed mid-append: check the tail again before the next write.
    this.repaired = false;
    this.refresh();
    return { acquired: true };
  }

  releaseLock(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  get path(): string {
    return this.file;
  }

  /** Every response on disk for this (task, split, template), first per key, workspace before read-only layers. */
  records(): RecordedResponse[] {
    return [...this.byKey.values(), ...this.byStudyPrompt.values()];
  }

  lookup(request: TeacherRequest, key: string): RecordedResponse | undefined {
    return this.byKey.get(key) ?? this.byStudyPrompt.get(studyIndexKey(request.model, studyCompletePrompt(request)));
  }

  /** Appends one answer durably (write + fsync) and indexes it. */
  append(entry: StoredEntry): RecordedResponse {
    this.prepareAppend();
    const handle = fs.openSync(this.file, 'a');
    try {
      fs.writeSync(handle, storedLine(entry));
      fs.fsyncSync(handle);
    } finally {
      fs.closeSync(handle);
    }
    return this.indexEntry(entry);
  }

  /**
   * Appends durably without blocking the event loop (group commit): answers that arrive while a write is in
   * progress are written together, one `write` of whole lines and one `fsync` per group, and each promise
   * resolves only once its line is on disk. Many queries in flight then share fsyncs instead of queueing on them.
   */
  commit(entry: StoredEntry): Promise<RecordedResponse> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private pending: { entry: StoredEntry; resolve: (record: RecordedResponse) => void; reject: (error: unknown) => void }[] = [];
  private flushing = false;

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      try {
        this.prepareAppend();
        const handle = await fs.promises.open(this.file, 'a');
        try {
          // writeFile, unlike write, loops until every byte is out.
          await handle.writeFile(group.map(({ entry }) => storedLine(entry)).join(''));
          await handle.sync();
        } finally {
          await handle.close();
        }
        for (const { entry, resolve } of group) resolve(this.indexEntry(entry));
      } catch (error) {
        for (const { reject } of group) reject(error);
      }
    }
    this.flushing = false;
  }

  private prepareAppend(): void {
    if (this.workspace.readOnly) throw new ZsdError('read-only', `refusing to write responses below the read-only data root: ${this.file}`);
    if (this.repaired) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    repairTornTail(this.file);
    this.repaired = true;
  }

  private indexEntry(entry: StoredEntry): RecordedResponse {
    const record = parseResponseLine(entry, this.file, 0);
    this.index(record);
    return record;
  }

  private load(file: string): void {
    if (!fs.existsSync(file)) return;
    // A torn tail is ignored here: it was never acknowledged to anyone, and the next append moves it aside.
    const { lines } = parseJsonLines(fs.readFileSync(file, 'utf8'), file);
    for (const { line, value } of lines) this.index(parseResponseLine(value, file, line));
  }

  private index(record: RecordedResponse): void {
    if (record.key !== undefined) {
      if (!this.byKey.has(record.key)) {
        this.byKey.set(record.key, record);
        this.size++;
      }
      return;
    }
    const studyKey = studyIndexKey(record.model ?? STUDY_MODEL, record.completePrompt);
    if (!this.byStudyPrompt.has(studyKey)) {
      this.byStudyPrompt.set(studyKey, record);
      this.size++;
    }
  }
}

/** One line of the store: the entry as JSON, with any registered secret redacted (a server may quote the key back). */
function storedLine(entry: StoredEntry): string {
  return `${redactSecrets(JSON.stringify(entry))}\n`;
}

function studyIndexKey(model: string, completePrompt: string): string {
  return `${model}\u0000${completePrompt}`;
}

/**
 * Makes the file end on a complete line: a torn last line (no newline, not JSON) is moved to a `.torn`
 * sidecar and cut off; a complete last line that lacks its newline gets one.
 */
export function repairTornTail(file: string): void {
  if (!fs.existsSync(file)) return;
  const content = fs.readFileSync(file, 'utf8');
  if (content === '' || content.endsWith('\n')) return;
  const lastBreak = content.lastIndexOf('\n');
  const tail = content.slice(lastBreak + 1);
  try {
    JSON.parse(tail);
    fs.appendFileSync(file, '\n');
  } catch {
    fs.appendFileSync(`${file}.torn`, `${tail}\n`);
    fs.truncateSync(file, Buffer.byteLength(content.slice(0, lastBreak + 1), 'utf8'));
  }
}
