/**
 * Ordinary least squares of y on x (numpy's `polyfit(x, y, 1)`, as the study drew its regression lines).
 * Pairs where either value is null or not finite are left out.
 */

export interface LineFit {
  slope: number;
  intercept: number;
  /** points the line was fitted on */
  n: number;
}

export function leastSquares(xs: readonly (number | null)[], ys: readonly (number | null)[]): LineFit | null {
  const points: [number, number][] = [];
  for (let index = 0; index < Math.min(xs.length, ys.length); index++) {
    const x = xs[index];
    const y = ys[index];
    if (x !== null && y !== null && Number.isFinite(x) && Number.isFinite(y)) points.push([x, y]);
  }
  if (points.length < 2) return null;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  if (variance === 0) return null;
  const slope = covariance / variance;
  return { slope, intercept: meanY - slope * meanX, n: points.length };
}
