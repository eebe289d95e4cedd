/**
 * The study's published teacher accuracies (../shared/docs/method.md, "Published numbers"): the targets that
 * `zsd study` and the tests reproduce from the recorded responses. Reference values to compare against,
 * never used to compute anything.
 */
export interface PublishedAccuracy {
  task: string;
  split: string;
  teacher: string;
  /** Template id, or "palm". */
  template: string;
  accuracy: number;
  /** Decimals the paper reports. */
  decimals: number;
  note?: string;
}

export const PUBLISHED_TEACHER_ACCURACIES: readonly PublishedAccuracy[] = [
  { task: 'anli1', split: 'valid', teacher: 'gpt-3.5-turbo', template: '100', accuracy: 0.599, decimals: 3 },
  { task: 'anli1', split: 'test', teacher: 'gpt-3.5-turbo', template: '100', accuracy: 0.636, decimals: 3 },
  { task: 'anli1', split: 'test', teacher: 'gpt-3.5-turbo', template: '179', accuracy: 0.992, decimals: 3, note: 'label given in the prompt' },
  { task: 'cqa', split: 'test', teacher: 'gpt-3.5-turbo', template: '3', accuracy: 0.7437, decimals: 4 },
  { task: 'svamp', split: 'test', teacher: 'gpt-3.5-turbo', template: '1', accuracy: 0.72, decimals: 3 },
  { task: 'svamp', split: 'test', teacher: 'gpt-3.5-turbo', template: '2', accuracy: 0.72, decimals: 3 },
  { task: 'svamp', split: 'test', teacher: 'gpt-3.5-turbo', template: '3', accuracy: 0.731, decimals: 3, note: '52 rows' },
  { task: 'cqa', split: 'test', teacher: 'palm', template: 'palm', accuracy: 0.7723, decimals: 4 },
  { task: 'svamp', split: 'test', teacher: 'palm', template: 'palm', accuracy: 0.74, decimals: 3 },
  { task: 'anli1', split: 'test', teacher: 'palm', template: 'palm', accuracy: 0.656, decimals: 3 },
  { task: 'esnli', split: 'test', teacher: 'palm', template: 'palm', accuracy: 0.7299, decimals: 4 },
];

/** Whether a measured accuracy rounds to the published figure at the paper's precision. */
export function matchesPublished(measured: number, published: PublishedAccuracy): boolean {
  return Math.abs(measured - published.accuracy) <= 0.5 * 10 ** -published.decimals + 1e-12;
}
