/**
 * Mean, sample standard deviation (n - 1, as numpy's ddof=1 and pandas' std) and standard error of the mean over a
 * few values such as one accuracy per seed. The SD and the standard error are null below two values; the mean is null
 * for none.
 */
export interface SeedStatistics {
  mean: number | null;
  sd: number | null;
  standardError: number | null;
}

export function seedStatistics(values: readonly number[]): SeedStatistics {
  if (values.length === 0) return { mean: null, sd: null, standardError: null };
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  if (values.length < 2) return { mean, sd: null, standardError: null };
  const sd = Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1));
  return { mean, sd, standardError: sd / Math.sqrt(values.length) };
}
