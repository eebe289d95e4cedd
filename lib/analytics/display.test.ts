import { isZsdError } from '../core/errors';
import { thrownBy } from '../test-support/fixtures';
import { display, displayTable, figureBundle, PLOTLY_MIME_TYPE, tableBundle } from './display';
import type { NamedFigure } from './figure';

const bars = { data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }], layout: { title: { text: 'Bars' }, height: 320 } };

describe('figureBundle', () => {
  it('carries the plotly JSON, a div with a drawing script, and a text line', () => {
    const bundle = figureBundle(bars, { inlinePlotly: false });
    expect(bundle.data[PLOTLY_MIME_TYPE]).toEqual(bars);
    expect(bundle.data['text/plain']).toBe('Plotly figure: Bars, 1 trace (bar)');
    const html = bundle.data['text/html'] as string;
    const id = /<div id="(zsd-plot-[a-z0-9]+)" class="zsd-plot" style="width:100%;min-height:320px">/.exec(html)?.[1];
    expect(id).toBeDefined();
    expect(html).toContain(`document.getElementById(${JSON.stringify(id)})`);
    expect(html).toContain('window.Plotly.newPlot(element, figure.data, figure.layout, figure.config)');
    expect(html).not.toContain('plotly.js v');
    expect(figureBundle(bars, { inlinePlotly: false }).data['text/html']).not.toContain(id!);
  });

  it('inlines plotly.js only when asked, and keeps script text from closing the tag', () => {
    const html = figureBundle(bars, { inlinePlotly: true, plotlySource: 'var s = "</script><!--";' }).data['text/html'] as string;
    expect(html).toContain('<script type="text/javascript">var s = "<\\/script><\\!--";</script>');
    const withData = figureBundle({ data: [{ type: 'bar', name: '</script><b>', y: [1] }] }, { inlinePlotly: false }).data['text/html'] as string;
    expect(withData.match(/<\/script>/g)).toHaveLength(1);
    expect(withData).toContain('<\\/script><b>');
  });

  it('inlines the real plotly.js bundle by default', () => {
    const html = figureBundle(bars, { inlinePlotly: true }).data['text/html'] as string;
    expect(html).toContain('plotly.js v3');
    expect(html).toContain('window.Plotly = Plotly');
  });

  it('shows a NamedFigure by name and title, with typed arrays as plain numbers', () => {
    const named: NamedFigure = {
      name: 'accuracy-by-task',
      title: 'Accuracy by task',
      figure: { data: [{ type: 'scatter', y: new Float32Array([0.5, 0.25]) }, { y: [1] }] },
      data: {},
    };
    const bundle = figureBundle(named, { inlinePlotly: false });
    expect(bundle.data['text/plain']).toBe('Plotly figure accuracy-by-task: Accuracy by task, 2 traces (scatter)');
    expect(bundle.data[PLOTLY_MIME_TYPE]).toEqual({ data: [{ type: 'scatter', y: [0.5, 0.25] }, { y: [1] }] });
  });

  it('refuses something that is not a plotly figure', () => {
    const error = thrownBy(() => figureBundle({ name: 'x', title: 'x', figure: {}, data: {} } as unknown as NamedFigure, { inlinePlotly: false }));
    expect(isZsdError(error) && error.message).toBe('display() expects a plotly figure with a data array (figure "x")');
  });
});

describe('tableBundle', () => {
  const rows = [
    { task: 'cqa', accuracy: 0.71234, n: 1221 },
    { task: '<svamp>', accuracy: 0.5, n: 300 },
    { task: 'anli1', accuracy: null, n: 1000 },
  ];

  it('renders aligned text and escaped HTML, numbers to the right', () => {
    const bundle = tableBundle(rows);
    expect(bundle.data['text/plain']).toBe(
      ['task     accuracy     n', '-------  --------  ----', 'cqa        0.7123  1221', '<svamp>    0.5000   300', 'anli1              1000'].join('\n'),
    );
    const html = bundle.data['text/html'] as string;
    expect(html).toContain('<th style="text-align:right">accuracy</th>');
    expect(html).toContain('<td style="text-align:left">&lt;svamp&gt;</td>');
    expect(html).toContain('<td style="text-align:right">0.7123</td>');
  });

  it('takes columns, a row limit and arquero-like tables', () => {
    const bundle = tableBundle({ objects: () => rows }, { columns: ['n', 'task'], maxRows: 1, caption: 'Tasks' });
    expect(bundle.data['text/plain']).toBe(['Tasks', '   n  task', '----  ----', '1221  cqa', '… 2 more rows (3 in all)'].join('\n'));
    expect(bundle.data['text/html']).toContain('<caption>Tasks</caption>');
  });
});

describe('display outside a notebook', () => {
  it('says that it needs the zsd kernel', () => {
    for (const call of [() => display(bars), () => displayTable([])]) {
      const error = thrownBy(call);
      expect(isZsdError(error) && error.kind).toBe('usage');
      expect((error as Error).message).toContain('inside a notebook run by the zsd kernel');
    }
  });
});
