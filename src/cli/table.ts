// The one way the CLI prints for people: columns padded to their widest cell
// (the last one left as it is), and times as the local clock shows them with
// how long ago. `--json` bypasses all of it and prints the API's own JSON.

/** Rows as aligned columns, under `header` when given; each line ends with a newline. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>, header?: ReadonlyArray<string>): string {
  const all = header ? [header, ...rows] : rows;
  if (all.length === 0) return '';
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return all.map((row) => `${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}\n`).join('');
}

const two = (n: number): string => String(n).padStart(2, '0');

/** A moment (epoch ms or an ISO string) as "2026-12-03 20:05:53 (3m ago)" in local time; '-' for none. */
export function when(at: number | string | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined || at === 0 || at === '') return '-';
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${date} (${ago(now - d.getTime())})`;
}

function ago(ms: number): string {
  const future = ms < 0;
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86_400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`;
  return future ? `in ${text}` : `${text} ago`;
}
