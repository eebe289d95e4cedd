/**
 * A figure as the analytics stage hands it around: a plotly figure object (what `Plotly.newPlot` takes and
 * what the `application/vnd.plotly.v1+json` MIME bundle carries) plus the numbers behind it, so the same
 * figure can be shown in a notebook, rendered to PNG/SVG and checked as JSON.
 */

/** A plotly figure: traces, layout and config, as plain JSON. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** A figure with a file name (`analytics/<name>.png|svg|json`) and the plotted series as numbers. */
export interface NamedFigure {
  /** File-name stem, kebab-case, unique among the figures. */
  name: string;
  /** A one-line human title (also the plot title). */
  title: string;
  figure: PlotlyFigure;
  /** The plotted series as plain JSON numbers (written to `analytics/<name>.json`). */
  data: unknown;
}
