/** Plain-text tables for terminal output: right-aligned numbers, left-aligned text. */
export type Cell = string | number | null;

export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => row.map(formatCell));
  const widths = header.map((title, column) => Math.max(title.length, ...text.map((row) => row[column].length)));
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] === 'number' || row[column] === null));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...text.map(line)].join('\n');
}

function formatCell(cell: Cell): string {
  if (cell === null) return 'n/a';
  if (typeof cell === 'number') return Number.isInteger(cell) ? String(cell) : cell.toFixed(3);
  return cell;
}
