import type { Workspace } from '../core/paths';
import { costOf, type ModelPrice } from '../teacher/prices';
import { readRecordedResponses, STUDY_MODEL } from '../teacher/recorded-responses';
import { countChatTokens, countTextTokens } from '../teacher/tokens';

/**
 * Tokens and dollars of recorded teacher queries, per (task, split, template): the usage zsd stored with an answer
 * where there is one, else the request counted with the model's tokenizer. The study's lines carry no usage, so
 * their prompt is counted as the chat request it was: `complete_prompt` is system message + "\n" + user message,
 * sent as two messages (OpenAI's chat accounting: 3 tokens per message, the role, the content, 3 to prime the
 * answer); the answer is the response text counted alone.
 */

export interface RecordedUsage {
  task: string;
  split: string;
  templateId: number;
  queries: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export function recordedUsage(workspace: Workspace, task: string, split: string, templateId: number, price: ModelPrice): RecordedUsage {
  let promptTokens = 0;
  let completionTokens = 0;
  let costUsd = 0;
  const responses = readRecordedResponses(workspace, task, split, templateId);
  for (const response of responses) {
    const model = response.model ?? STUDY_MODEL;
    const usage = response.usage ?? {
      prompt_tokens: studyPromptTokens(response.completePrompt, model),
      completion_tokens: countTextTokens(response.response, model),
    };
    promptTokens += usage.prompt_tokens;
    completionTokens += usage.completion_tokens;
    costUsd += response.costUsd ?? costOf(usage, price);
  }
  return { task, split, templateId, queries: responses.length, promptTokens, completionTokens, costUsd };
}

/** Prompt tokens of a study line's chat request, from its `complete_prompt` (system + "\n" + user). */
export function studyPromptTokens(completePrompt: string, model = STUDY_MODEL): number {
  const newline = completePrompt.indexOf('\n');
  const system = newline < 0 ? '' : completePrompt.slice(0, newline);
  const user = newline < 0 ? completePrompt : completePrompt.slice(newline + 1);
  return countChatTokens(
    [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ],
    model,
  );
}
