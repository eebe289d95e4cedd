import type { PlotlyFigure } from './figure';

/**
 * The look every figure shares: a title, axis titles, a white template, a legend on top. Builders pass plain
 * plotly traces and layout overrides; nothing here computes data.
 */

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function baseLayout(title: string, xTitle: string, yTitle: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title },
    template: 'plotly_white',
    xaxis: { title: { text: xTitle }, zeroline: false },
    yaxis: { title: { text: yTitle }, zeroline: false },
    legend: { orientation: 'h', y: -0.2 },
    margin: { t: 60, l: 70, r: 30, b: 90 },
    width: 800,
    height: 500,
    ...overrides,
  };
}

export function figureOf(data: Record<string, unknown>[], layout: Record<string, unknown>): PlotlyFigure {
  return { data, layout, config: { responsive: true, displaylogo: false } };
}

/** A translucent band between lower and upper (the SEM band of a line). */
export function bandTrace(
  x: readonly (number | string)[],
  lower: readonly number[],
  upper: readonly number[],
  color: string,
  name: string,
): Record<string, unknown> {
  return {
    type: 'scatter',
    mode: 'lines',
    x: [...x, ...[...x].reverse()],
    y: [...upper, ...[...lower].reverse()],
    fill: 'toself',
    fillcolor: withAlpha(color, 0.18),
    line: { width: 0, color },
    hoverinfo: 'skip',
    showlegend: false,
    legendgroup: name,
    name: `${name} ± SEM`,
  };
}

export function withAlpha(hex: string, alpha: number): string {
  const value = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

/** Rounds for the JSON a figure carries (plots keep full precision). */
export function rounded(value: number | null, digits = 6): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Grey one-line notes above the plot area, one per missing series (why it is not drawn). */
export function missingDataNotes(reasons: readonly (string | null | undefined)[]): Record<string, unknown>[] {
  return reasons.map((text, index) => ({
    text,
    xref: 'paper',
    yref: 'paper',
    x: 0,
    y: 1.02 + 0.05 * index,
    showarrow: false,
    xanchor: 'left',
    font: { size: 10, color: '#888' },
  }));
}
