import { z } from 'zod';
import {
  HttpError,
  invalidRequest,
  nowSeconds,
  parseJsonBody,
  validateBody,
  type Completion,
  type Exchange,
  type ReplayResponder,
} from '../../teacher/replay-server';

/**
 * OpenAI's Files and Batch APIs, imitated in memory for the fake OpenAI server:
 * - POST /v1/files (multipart/form-data: `purpose`, `file`), GET /v1/files, GET /v1/files/:id,
 *   GET /v1/files/:id/content (the raw bytes), DELETE /v1/files/:id.
 * - POST /v1/batches, GET /v1/batches, GET /v1/batches/:id, POST /v1/batches/:id/cancel. A batch reports
 *   'validating' when created, 'in_progress' on later GETs and 'completed' on the `completionPolls`-th GET;
 *   its requests are answered then by the responder (no faults, no latency) and counted in the stats like direct
 *   completions. An input file that does not validate turns the batch 'failed' on its first GET, with
 *   `errors.data` naming lines.
 */

interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  createdAt: number;
  data: Buffer;
}

interface BatchRecord {
  id: string;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  metadata: Record<string, string> | null;
  createdAt: number;
  status: 'validating' | 'failed' | 'in_progress' | 'completed' | 'cancelled';
  polls: number;
  lines: Array<{ customId: string; body: Record<string, unknown> }>;
  errors: Array<{ code: string; line: number | null; message: string; param: string | null }>;
  timestamps: Partial<Record<'in_progress_at' | 'finalizing_at' | 'completed_at' | 'failed_at' | 'cancelling_at' | 'cancelled_at', number>>;
  outputFileId: string | null;
  requestCounts: { total: number; completed: number; failed: number };
  usage: { input: number; output: number };
}

const batchRequestSchema = z.looseObject({
  input_file_id: z.string(),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
});
const batchLineSchema = z.looseObject({
  custom_id: z.string().min(1),
  method: z.literal('POST'),
  url: z.string(),
  body: z.record(z.string(), z.unknown()),
});

const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions'];

/** The Files and Batch routes over a responder; returns a handler that answers their requests (true) or not (false). */
export function batchApi(responder: ReplayResponder, completionPolls: number): (exchange: Exchange) => Promise<boolean> {
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, BatchRecord>();

  function storeFile(filename: string, purpose: string, data: Buffer): StoredFile {
    const file: StoredFile = { id: responder.nextId('file-fake'), filename, purpose, createdAt: nowSeconds(), data };
    files.set(file.id, file);
    return file;
  }

  function getFile(id: string): StoredFile {
    const file = files.get(id);
    if (!file) throw new HttpError(404, 'invalid_request_error', 'file_not_found', `No such File object: ${id}`, 'id');
    return file;
  }

  function createBatch(json: unknown): BatchRecord {
    const request = validateBody(batchRequestSchema, json);
    if (!BATCH_ENDPOINTS.includes(request.endpoint))
      throw invalidRequest(`endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}, got ${request.endpoint}`, 'endpoint');
    if (request.completion_window !== '24h') throw invalidRequest(`completion_window must be '24h', got '${request.completion_window}'`, 'completion_window');
    const input = files.get(request.input_file_id);
    if (!input) throw new HttpError(404, 'invalid_request_error', 'file_not_found', `No such File object: ${request.input_file_id}`, 'input_file_id');
    const batch: BatchRecord = {
      id: responder.nextId('batch_fake'),
      endpoint: request.endpoint,
      inputFileId: input.id,
      completionWindow: request.completion_window,
      metadata: request.metadata ?? null,
      createdAt: nowSeconds(),
      status: 'validating',
      polls: 0,
      lines: [],
      errors: [],
      timestamps: {},
      outputFileId: null,
      requestCounts: { total: 0, completed: 0, failed: 0 },
      usage: { input: 0, output: 0 },
    };
    if (input.purpose !== 'batch')
      batch.errors.push({ code: 'invalid_file', line: null, message: `input file has purpose '${input.purpose}', expected 'batch'`, param: 'input_file_id' });
    const seen = new Set<string>();
    const rows = input.data.toString('utf8').split('\n');
    rows.forEach((row, index) => {
      if (row.trim() === '') return;
      const line = index + 1;
      let value: unknown;
      try {
        value = JSON.parse(row);
      } catch {
        batch.errors.push({ code: 'invalid_json_line', line, message: 'line is not valid JSON; expected {custom_id, method, url, body}', param: null });
        return;
      }
      const parsed = batchLineSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        batch.errors.push({
          code: 'invalid_request',
          line,
          message: `${issue.path.map(String).join('.') || 'line'}: ${issue.message}`,
          param: issue.path.map(String).join('.') || null,
        });
        return;
      }
      if (parsed.data.url !== batch.endpoint) {
        batch.errors.push({ code: 'mismatched_url', line, message: `url ${parsed.data.url} differs from the batch endpoint ${batch.endpoint}`, param: 'url' });
        return;
      }
      if (seen.has(parsed.data.custom_id)) {
        batch.errors.push({ code: 'duplicate_custom_id', line, message: `custom_id "${parsed.data.custom_id}" occurs more than once`, param: 'custom_id' });
        return;
      }
      seen.add(parsed.data.custom_id);
      batch.lines.push({ customId: parsed.data.custom_id, body: parsed.data.body });
    });
    if (batch.lines.length === 0 && batch.errors.length === 0)
      batch.errors.push({ code: 'empty_file', line: null, message: 'the input file holds no requests', param: 'input_file_id' });
    batch.requestCounts.total = batch.errors.length > 0 ? 0 : batch.lines.length;
    if (completionPolls === 0) advanceBatch(batch);
    return batch;
  }

  function completeBatch(batch: BatchRecord): void {
    const output: string[] = [];
    for (const { customId, body } of batch.lines) {
      let completion: Completion;
      try {
        completion = responder.answer(responder.parseRequest(batch.endpoint === '/v1/chat/completions' ? 'chat' : 'text', body));
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        completion = { kind: 'error', error };
      }
      const requestId = responder.nextId('req_fake');
      if (completion.kind === 'answer') {
        responder.recordAnswered(completion.key);
        batch.requestCounts.completed++;
        batch.usage.input += completion.body.usage.prompt_tokens;
        batch.usage.output += completion.body.usage.completion_tokens;
        output.push(
          JSON.stringify({
            id: responder.nextId('batch_req_fake'),
            custom_id: customId,
            response: { status_code: 200, request_id: requestId, body: completion.body },
            error: null,
          }),
        );
      } else {
        batch.requestCounts.failed++;
        output.push(
          JSON.stringify({
            id: responder.nextId('batch_req_fake'),
            custom_id: customId,
            response: { status_code: completion.error.status, request_id: requestId, body: completion.error.body() },
            error: null,
          }),
        );
      }
    }
    const file = storeFile(`${batch.id}_output.jsonl`, 'batch_output', Buffer.from(output.map((line) => `${line}\n`).join(''), 'utf8'));
    batch.outputFileId = file.id;
    batch.status = 'completed';
    batch.timestamps.finalizing_at = nowSeconds();
    batch.timestamps.completed_at = nowSeconds();
  }

  /** One GET of a batch: validating -> in_progress -> completed (or failed, for an invalid input file). */
  function advanceBatch(batch: BatchRecord): void {
    if (batch.status !== 'validating' && batch.status !== 'in_progress') return;
    batch.polls++;
    if (batch.errors.length > 0) {
      batch.status = 'failed';
      batch.timestamps.failed_at = nowSeconds();
      return;
    }
    batch.timestamps.in_progress_at ??= nowSeconds();
    if (batch.polls >= completionPolls) completeBatch(batch);
    else batch.status = 'in_progress';
  }

  function getBatch(id: string): BatchRecord {
    const batch = batches.get(id);
    if (!batch) throw new HttpError(404, 'invalid_request_error', 'batch_not_found', `No such Batch object: ${id}`, 'id');
    return batch;
  }

  return async (exchange) => {
    const { method, at, segments } = exchange;
    const send = (body: unknown): true => {
      exchange.sendJson(200, body);
      return true;
    };
    if (method === 'POST' && at('v1', 'files')) {
      const form = await formDataOf(exchange);
      const purpose = form.get('purpose');
      const upload = form.get('file');
      if (typeof purpose !== 'string') throw invalidRequest("missing required parameter 'purpose'", 'purpose', 'missing_required_parameter');
      if (upload === null) throw invalidRequest("missing required parameter 'file'", 'file', 'missing_required_parameter');
      const data = typeof upload === 'string' ? Buffer.from(upload, 'utf8') : Buffer.from(await upload.arrayBuffer());
      return send(fileObject(storeFile(typeof upload === 'string' ? 'upload' : upload.name || 'upload', purpose, data)));
    }
    if (method === 'GET' && at('v1', 'files')) return send(list([...files.values()].map(fileObject)));
    if (method === 'GET' && at('v1', 'files', '*')) return send(fileObject(getFile(segments[2])));
    if (method === 'DELETE' && at('v1', 'files', '*')) {
      const file = getFile(segments[2]);
      files.delete(file.id);
      return send({ id: file.id, object: 'file', deleted: true });
    }
    if (method === 'GET' && at('v1', 'files', '*', 'content')) {
      exchange.sendBytes(200, getFile(segments[2]).data, { 'content-type': 'application/octet-stream' });
      return true;
    }
    if (method === 'POST' && at('v1', 'batches')) {
      const batch = createBatch(parseJsonBody(exchange.body));
      batches.set(batch.id, batch);
      return send(batchObject(batch));
    }
    if (method === 'GET' && at('v1', 'batches')) return send(list([...batches.values()].reverse().map(batchObject)));
    if (method === 'GET' && at('v1', 'batches', '*')) {
      const batch = getBatch(segments[2]);
      advanceBatch(batch);
      return send(batchObject(batch));
    }
    if (method === 'POST' && at('v1', 'batches', '*', 'cancel')) {
      const batch = getBatch(segments[2]);
      if (batch.status !== 'validating' && batch.status !== 'in_progress')
        throw invalidRequest(`Cannot cancel a batch with status '${batch.status}'.`, null, 'batch_not_cancellable');
      batch.status = 'cancelled';
      batch.timestamps.cancelling_at = nowSeconds();
      batch.timestamps.cancelled_at = nowSeconds();
      return send(batchObject(batch));
    }
    return false;
  };
}

/** A multipart/form-data body parsed by the platform's fetch implementation (undici), as the SDK's FormData sent it. */
async function formDataOf(exchange: Exchange): Promise<FormData> {
  const contentType = exchange.request.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) throw invalidRequest(`expected a multipart/form-data body, got content-type "${contentType}"`);
  try {
    return await new Request('http://127.0.0.1/v1/files', { method: 'POST', headers: { 'content-type': contentType }, body: exchange.body }).formData();
  } catch (error) {
    throw invalidRequest(`malformed multipart/form-data body: ${(error as Error).message}`);
  }
}

function fileObject(file: StoredFile): Record<string, unknown> {
  return {
    id: file.id,
    object: 'file',
    bytes: file.data.length,
    created_at: file.createdAt,
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
    status_details: null,
  };
}

function list(data: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> {
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: false };
}

function batchObject(batch: BatchRecord): Record<string, unknown> {
  return {
    id: batch.id,
    object: 'batch',
    endpoint: batch.endpoint,
    errors: batch.errors.length > 0 ? { object: 'list', data: batch.errors } : null,
    input_file_id: batch.inputFileId,
    completion_window: batch.completionWindow,
    status: batch.status,
    output_file_id: batch.outputFileId,
    error_file_id: null,
    created_at: batch.createdAt,
    in_progress_at: batch.timestamps.in_progress_at ?? null,
    expires_at: batch.createdAt + 24 * 3600,
    finalizing_at: batch.timestamps.finalizing_at ?? null,
    completed_at: batch.timestamps.completed_at ?? null,
    failed_at: batch.timestamps.failed_at ?? null,
    expired_at: null,
    cancelling_at: batch.timestamps.cancelling_at ?? null,
    cancelled_at: batch.timestamps.cancelled_at ?? null,
    request_counts: batch.requestCounts,
    usage: {
      input_tokens: batch.usage.input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: batch.usage.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: batch.usage.input + batch.usage.output,
    },
    metadata: batch.metadata,
  };
}
