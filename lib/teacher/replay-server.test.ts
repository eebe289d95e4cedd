import * as path from 'node:path';
import OpenAI, { APIError } from 'openai';
import { readJsonLines } from '../core/jsonl';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { startReplayServer, type ReplayServer, type ReplayServerOptions } from './replay-server';
import { countChatTokens, countTextTokens, type ChatMessage } from './tokens';

interface StudyLine {
  idx: number;
  complete_prompt: string;
  response: string;
}

const STUDY = path.join(DATA_ROOT, 'zero-shot');
const CQA_TEST_3 = path.join(STUDY, 'query-results', 'cqa', 'test', '3', 'responses.json');
const recorded = readJsonLines<StudyLine>(CQA_TEST_3).lines.map((line) => line.value);
const UNKNOWN_PROMPT = '\nThis prompt was never sent to gpt-3.5-turbo in the study.';

/** The recorded complete_prompt split at its first "\n" into the system and user message. */
function messagesOf(completePrompt: string): ChatMessage[] {
  const cut = completePrompt.indexOf('\n');
  return [
    { role: 'system', content: completePrompt.slice(0, cut) },
    { role: 'user', content: completePrompt.slice(cut + 1) },
  ];
}

function clientFor(server: ReplayServer): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: server.url, maxRetries: 0 });
}

const servers: ReplayServer[] = [];
async function start(options: ReplayServerOptions): Promise<ReplayServer> {
  const server = await startReplayServer(options);
  servers.push(server);
  return server;
}

let study: ReplayServer;
let client: OpenAI;

beforeAll(async () => {
  study = await start({ replay: [STUDY] });
  client = clientFor(study);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

beforeEach(() => study.resetStats());

describe('replaying the recorded study', () => {
  test('a recorded cqa test template 3 prompt returns the recorded response, with usage counted by tokens.ts', async () => {
    const line = recorded[0];
    const messages = messagesOf(line.complete_prompt);
    expect(messages[0].content).toBe(''); // template 3 has no system message
    const completion = await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages, temperature: 0 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-3.5-turbo');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0].message.content).toBe(line.response);
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion._request_id).toMatch(/^req_/);
    const usage = completion.usage!;
    expect(usage.prompt_tokens).toBe(countChatTokens(messages, 'gpt-3.5-turbo'));
    expect(usage.completion_tokens).toBe(countTextTokens(line.response, 'gpt-3.5-turbo'));
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.prompt_tokens).toBeGreaterThan(30);
    expect(usage.prompt_tokens).toBeLessThan(400);
    expect(usage.completion_tokens).toBeGreaterThan(3);
  });

  test('the key is system + "\\n" + user: leaving out the empty system message finds the same recording', async () => {
    const line = recorded[1];
    const completion = await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: [messagesOf(line.complete_prompt)[1]] });
    expect(completion.choices[0].message.content).toBe(line.response);
  });

  test('POST /v1/completions answers the prompt string', async () => {
    const line = recorded[2];
    const completion = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: line.complete_prompt });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0].text).toBe(line.response);
    expect(completion.usage!.prompt_tokens).toBe(countTextTokens(line.complete_prompt, 'gpt-3.5-turbo-instruct'));
    expect(study.stats().completions).toBe(1);
  });

  test('an unknown prompt is a 404 no_recording miss, counted in stats and not as a completion', async () => {
    const error = await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(UNKNOWN_PROMPT) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(404);
    expect((error as APIError).code).toBe('no_recording');
    expect((error as APIError).type).toBe('invalid_request_error');
    expect(study.stats()).toMatchObject({ requests: 1, completions: 0, misses: 1, byPrompt: {} });
  });

  test('an earlier replay root wins over the study, and its torn last line is left out', async () => {
    const workspace = temporaryDirectory();
    const mine = { ...recorded[3], response: 'My own recorded answer.' };
    const torn = JSON.stringify({ ...recorded[4], response: 'never used' }).slice(0, 60);
    writeFile(path.join(workspace, 'query-results', 'cqa', 'test', '3', 'responses.json'), `${JSON.stringify(mine)}\n${torn}`);
    const layered = await start({ replay: [workspace, STUDY] });
    const layeredClient = clientFor(layered);
    const answer = async (line: StudyLine) =>
      (await layeredClient.chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(line.complete_prompt) })).choices[0].message.content;
    expect(await answer(recorded[3])).toBe('My own recorded answer.');
    expect(await answer(recorded[4])).toBe(recorded[4].response);
  });

  test('unknown paths are 404 and malformed request JSON is 400, both in the OpenAI error shape', async () => {
    const unknown = await fetch(`${study.url}/engines/davinci`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'unknown_url' } });
    const malformed = await fetch(`${study.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "gpt' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_json' } });
    const invalid = await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: [] }).catch((caught: unknown) => caught);
    expect((invalid as APIError).status).toBe(400);
    expect((invalid as APIError).param).toBe('messages');
  });

  test('byPrompt counts the answers delivered per complete_prompt; a miss counts as a request, not a completion', async () => {
    const [first, second] = recorded;
    for (const line of [first, first, second]) await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(line.complete_prompt) });
    await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(UNKNOWN_PROMPT) }).catch(() => undefined);
    expect(study.stats()).toEqual({ requests: 4, completions: 3, misses: 1, byPrompt: { [first.complete_prompt]: 2, [second.complete_prompt]: 1 } });
    study.resetStats();
    expect(study.stats()).toEqual({ requests: 0, completions: 0, misses: 0, byPrompt: {} });
  });

  test('models: the study model and every model named in the recordings; streaming is refused', async () => {
    expect((await client.models.list()).data.map((model) => model.id)).toContain('gpt-3.5-turbo');
    expect((await client.models.retrieve('gpt-3.5-turbo')).id).toBe('gpt-3.5-turbo');
    await expect(client.models.retrieve('no-such-model')).rejects.toMatchObject({ status: 404 });
    const streamed = await fetch(`${study.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-3.5-turbo', stream: true, messages: messagesOf(recorded[0].complete_prompt) }),
    });
    expect(streamed.status).toBe(400);
    expect(await streamed.json()).toMatchObject({ error: { param: 'stream' } });
  });

  test('a replay root that is not a directory is refused, naming it', async () => {
    await expect(startReplayServer({ replay: [path.join(STUDY, 'no-such-workspace')] })).rejects.toThrow(/no-such-workspace is not a directory/);
  });
});
