import { seedStatistics } from './seed-statistics';

describe('seedStatistics', () => {
  test('mean, sample SD (n - 1) and standard error, computed by hand', () => {
    // 0.15, 0.20, 0.25: mean 0.20, squared deviations 0.0025 + 0 + 0.0025 = 0.005, / 2 = 0.0025, SD 0.05
    const statistics = seedStatistics([0.15, 0.2, 0.25]);
    expect(statistics.mean).toBeCloseTo(0.2, 12);
    expect(statistics.sd).toBeCloseTo(0.05, 12);
    expect(statistics.standardError).toBeCloseTo(0.05 / Math.sqrt(3), 12);
  });

  test('one value has no spread; none has no mean', () => {
    expect(seedStatistics([0.3])).toEqual({ mean: 0.3, sd: null, standardError: null });
    expect(seedStatistics([])).toEqual({ mean: null, sd: null, standardError: null });
  });
});
