import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { temporaryDirectory } from '../test-support/fixtures';
import type { NamedFigure } from './figure';
import { renderFigures } from './render';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const tiny: NamedFigure = {
  name: 'tiny-bars',
  title: 'Tiny bars',
  figure: { data: [{ type: 'bar', x: ['cqa', 'svamp', 'anli1'], y: [0.71, 0.52, 0.43] }], layout: { width: 400, height: 300 } },
  data: { tasks: ['cqa', 'svamp', 'anli1'], accuracy: [0.71, 0.52, 0.43] },
};

describe('renderFigures', () => {
  it('writes png, svg and json for each figure, and nothing else', async () => {
    const outDir = temporaryDirectory();
    const lines: string[] = [];
    const rendered = await renderFigures([tiny], outDir, { log: (line) => lines.push(line) });

    expect(rendered.map((figure) => figure.name)).toEqual(['tiny-bars']);
    expect(fs.readdirSync(outDir).sort()).toEqual(['tiny-bars.json', 'tiny-bars.png', 'tiny-bars.svg']);
    const png = fs.readFileSync(path.join(outDir, 'tiny-bars.png'));
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(png.length).toBeGreaterThan(5000);
    // The PNG header's size: 400 x 300 at scale 2.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([800, 600]);
    const svg = fs.readFileSync(path.join(outDir, 'tiny-bars.svg'), 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('Tiny bars');
    expect(JSON.parse(fs.readFileSync(path.join(outDir, 'tiny-bars.json'), 'utf8'))).toEqual(tiny.data);
    expect(lines.some((line) => line.includes('[1/1] tiny-bars'))).toBe(true);
  });

  it('refuses bad or duplicate names before starting a browser, writing nothing', async () => {
    const outDir = path.join(temporaryDirectory(), 'out');
    for (const figures of [[{ ...tiny, name: 'Bad Name' }], [tiny, tiny], [{ ...tiny, figure: {} as NamedFigure['figure'] }]]) {
      const error = await renderFigures(figures, outDir).catch((caught: unknown) => caught);
      expect(isZsdError(error) && error.kind).toBe('usage');
    }
    expect(fs.existsSync(outDir)).toBe(false);
  });

  it('names the figure that plotly cannot render, and writes none of its files', async () => {
    const outDir = temporaryDirectory();
    const broken: NamedFigure = { ...tiny, name: 'broken', figure: { data: [{ type: 'bar', x: [1] }], layout: { width: -5 } } };
    const error = await renderFigures([tiny, broken], outDir, { log: () => undefined }).catch((caught: unknown) => caught);
    expect(isZsdError(error) && error.message).toMatch(/broken.*Plotly\.toImage\(png\) failed: .*pixel values/);
    expect(fs.readdirSync(outDir).sort()).toEqual(['tiny-bars.json', 'tiny-bars.png', 'tiny-bars.svg']);
  });
});
