import { getEncoding, type Tiktoken, type TiktokenEncoding } from 'js-tiktoken';

/**
 * Token counting with the model's own tokenizer (tiktoken encodings, pure JavaScript), for cost estimates
 * before any query (`--dry-run`, `--max-cost`) and for the fake server's usage figures.
 * Chat prompts count as OpenAI documents for its chat models: 3 tokens per message, the role and content
 * tokens, and 3 for priming the reply. Models zsd does not know use cl100k_base: an estimate, said so.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const encoders = new Map<TiktokenEncoding, Tiktoken>();

export function encodingForModel(model: string): TiktokenEncoding {
  if (/^(gpt-4o|gpt-4\.1|gpt-5|o1|o3|o4|chatgpt-4o)/.test(model)) return 'o200k_base';
  if (/^(text-davinci-00[23]|code-davinci)/.test(model)) return 'p50k_base';
  return 'cl100k_base';
}

function encoder(encoding: TiktokenEncoding): Tiktoken {
  let instance = encoders.get(encoding);
  if (!instance) {
    instance = getEncoding(encoding);
    encoders.set(encoding, instance);
  }
  return instance;
}

export function countTextTokens(text: string, model: string): number {
  return encoder(encodingForModel(model)).encode(text).length;
}

export function countChatTokens(messages: readonly ChatMessage[], model: string): number {
  const tokens = encoder(encodingForModel(model));
  let total = 3;
  for (const message of messages) total += 3 + tokens.encode(message.role).length + tokens.encode(message.content).length;
  return total;
}
