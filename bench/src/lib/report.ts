import type { Spread } from './stats.js';
import type { BenchResults, ComparisonResult, ScenarioResult, VariantResult } from './results.js';

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ms = (n: number): string => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '—');
const x = (n: number): string => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) : '—');
const mib = (s: Spread): string => (s.n === 0 ? '—' : `${s.median.toFixed(0)} MiB`);

function withRange(s: Spread, f: (n: number) => string, unit = ''): string {
  if (s.n === 0) return '—';
  return `${f(s.median)}${unit} (${f(s.min)}–${f(s.max)})`;
}

function isLatency(v: VariantResult): boolean {
  return v.p50Ms !== undefined;
}

function failures(v: VariantResult): number {
  return v.runs.filter((r) => 'error' in r).length;
}

function verdict(c: { met?: boolean; target?: unknown }): string {
  if (c.target === undefined) return '';
  if (c.met === undefined) return 'no data';
  return c.met ? 'MET' : 'MISSED';
}

/** Rows of one scenario's variant table: [variant, figure, peak RSS, note]. */
function variantRows(s: ScenarioResult): string[][] {
  return s.variants.map((v) => {
    const figure = isLatency(v)
      ? `p50 ${withRange(v.p50Ms!, ms, ' ms')} · p99 ${withRange(v.p99Ms!, ms, ' ms')}`
      : v.figure === 'duration'
        ? `${ms(1000 / v.rate.median)} ms (${ms(1000 / v.rate.max)}–${ms(1000 / v.rate.min)})`
        : `${withRange(v.rate, int)} msg/s`;
    const failed = failures(v);
    return [v.label, figure, mib(v.maxRssMiB), failed > 0 ? `${failed} run(s) failed` : ''];
  });
}

function comparisonRows(s: ScenarioResult): string[][] {
  return s.comparisons.map((c: ComparisonResult) => [
    c.label + (c.metric === 'rate' ? '' : ` (${c.metric === 'p50Ms' ? 'p50' : 'p99'}, lower is better)`),
    c.ratio.n === 0 ? '—' : `${x(c.ratio.median)}× (${x(c.ratio.min)}–${x(c.ratio.max)})`,
    c.target?.text ?? '',
    verdict(c),
  ]);
}

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

export function machineLine(r: BenchResults): string {
  const m = r.machine;
  return (
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}` +
    (m.kafka ? `, Kafka ${m.kafka}` : '') +
    (m.rabbitmq ? `, RabbitMQ ${m.rabbitmq}` : '')
  );
}

/** The plain-text report printed at the end of a run. */
export function textReport(r: BenchResults): string {
  const out: string[] = [];
  out.push(`msgport benchmarks, ${r.startedAt}${r.quick ? ' (--quick)' : ''}: ${machineLine(r)}`);
  out.push('Figures: median of the runs (min–max). Ratios: msgport / baseline, taken run by run in the same run.');
  for (const s of r.scenarios) {
    out.push('');
    out.push(`[${s.name}] ${s.title}`);
    if (s.skipped !== undefined) {
      out.push(`  skipped: ${s.skipped}`);
      continue;
    }
    out.push(`  ${s.workload ?? ''}; ${s.runs} run(s), ${s.seconds.toFixed(0)} s`);
    for (const line of pad([['variant', 'result', 'peak RSS', ''], ...variantRows(s)])) out.push(`  ${line}`);
    if (s.comparisons.length > 0) {
      out.push('');
      for (const line of pad([['ratio', 'median (min–max)', 'target', ''], ...comparisonRows(s)])) out.push(`  ${line}`);
    }
  }
  const targets = targetRows(r);
  if (targets.length > 0) {
    out.push('');
    out.push('Targets');
    for (const line of pad([['target', 'measured', 'wanted', ''], ...targets])) out.push(`  ${line}`);
  }
  return out.join('\n');
}

function targetRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const s of r.scenarios) {
    for (const c of s.comparisons) {
      if (c.target === undefined) continue;
      rows.push([c.label, c.ratio.n === 0 ? '—' : `${x(c.ratio.median)}×`, c.target.text, verdict(c)]);
    }
    for (const a of s.absoluteTargets) {
      rows.push([
        a.label,
        a.value.n === 0 ? '—' : `${int(a.value.median)} msg/s`,
        a.text,
        verdict({ target: a, ...(a.met === undefined ? {} : { met: a.met }) }),
      ]);
    }
  }
  return rows;
}

function mdTable(header: string[], rows: string[][]): string[] {
  const esc = (cell: string): string => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ];
}

/** The same report as Markdown, for bench/README.md. */
export function markdownReport(r: BenchResults): string {
  const out: string[] = [];
  out.push(
    `Run ${r.startedAt}${r.quick ? ' with `--quick`' : ''} (\`${r.command}\`, ${Math.round(r.seconds)} s) on ${machineLine(r)}.`,
  );
  out.push('Figures are the median of the runs with (min–max); ratios are msgport / baseline, paired run by run.');
  for (const s of r.scenarios) {
    out.push('');
    out.push(`#### ${s.name}: ${s.title}`);
    out.push('');
    if (s.skipped !== undefined) {
      out.push(`Skipped: ${s.skipped}`);
      continue;
    }
    out.push(`${s.workload ?? ''}; ${s.runs} run(s).`);
    out.push('');
    out.push(...mdTable(['variant', 'result', 'peak RSS', ''], variantRows(s)));
    if (s.comparisons.length > 0) {
      out.push('');
      out.push(...mdTable(['ratio', 'median (min–max)', 'target', ''], comparisonRows(s)));
    }
  }
  const targets = targetRows(r);
  if (targets.length > 0) {
    out.push('');
    out.push('#### Targets');
    out.push('');
    out.push(...mdTable(['target', 'measured', 'wanted', ''], targets));
  }
  return out.join('\n') + '\n';
}

// ---- the chart ---------------------------------------------------------------------------------

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A self-contained SVG: one row per ratio, on a log scale around parity (1×), a bar to the
 * median, a whisker over min–max, and the target as a red tick. Green: target met; red: missed;
 * blue: no target (ceilings, latency).
 */
export function svgChart(r: BenchResults): string {
  const rows: Array<{ kind: 'header'; text: string } | { kind: 'ratio'; c: ComparisonResult }> = [];
  for (const s of r.scenarios) {
    if (s.skipped !== undefined || s.comparisons.length === 0) continue;
    rows.push({ kind: 'header', text: `${s.name}: ${s.title}` });
    for (const c of s.comparisons) rows.push({ kind: 'ratio', c });
  }
  const width = 1100;
  const labelWidth = 430;
  const plotLeft = labelWidth + 10;
  const plotRight = width - 170;
  const rowHeight = 24;
  const top = 70;
  const height = top + rows.length * rowHeight + 60;
  const lo = Math.log10(0.01);
  const hi = Math.log10(100);
  const clamp = (v: number): number => Math.min(10 ** hi, Math.max(10 ** lo, v));
  const xOf = (v: number): number => plotLeft + ((Math.log10(clamp(v)) - lo) / (hi - lo)) * (plotRight - plotLeft);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="12" y="22" font-size="16" font-weight="bold">msgport vs baselines: ratio per comparison (median, whisker = min–max of per-run ratios)</text>`,
  );
  parts.push(
    `<text x="12" y="42" fill="#444">${escapeXml(`${r.startedAt}${r.quick ? ' (--quick)' : ''} — ${machineLine(r)}`)}</text>`,
  );
  // grid
  const labelled = new Set([0.01, 0.1, 0.5, 1, 2, 10, 100]);
  for (const tick of [0.01, 0.03, 0.1, 0.3, 0.5, 1, 2, 3, 10, 30, 100]) {
    const gx = xOf(tick);
    parts.push(
      `<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${top + rows.length * rowHeight}" stroke="${tick === 1 ? '#000' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
    );
    if (labelled.has(tick)) parts.push(`<text x="${gx}" y="${top - 12}" text-anchor="middle" fill="#555">${tick}×</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    if (row.kind === 'header') {
      parts.push(`<rect x="0" y="${y}" width="${width}" height="${rowHeight}" fill="#f3f3f3"/>`);
      parts.push(`<text x="12" y="${y + 16}" font-weight="bold">${escapeXml(row.text)}</text>`);
      return;
    }
    const c = row.c;
    const lowerIsBetter = c.metric !== 'rate';
    const label = c.label + (lowerIsBetter ? ` (${c.metric === 'p50Ms' ? 'p50' : 'p99'}, lower is better)` : '');
    parts.push(`<text x="${labelWidth}" y="${y + 16}" text-anchor="end">${escapeXml(label)}</text>`);
    if (c.ratio.n === 0) {
      parts.push(`<text x="${plotLeft + 4}" y="${y + 16}" fill="#999">no data</text>`);
      return;
    }
    const colour = c.met === undefined ? '#4a78c2' : c.met ? '#2e9e4f' : '#d0433a';
    const x1 = xOf(1);
    const xm = xOf(c.ratio.median);
    parts.push(
      `<rect x="${Math.min(x1, xm)}" y="${y + 5}" width="${Math.max(1, Math.abs(xm - x1))}" height="${rowHeight - 10}" fill="${colour}" opacity="0.85"/>`,
    );
    const xa = xOf(c.ratio.min);
    const xb = xOf(c.ratio.max);
    const cy = y + rowHeight / 2;
    parts.push(`<line x1="${xa}" y1="${cy}" x2="${xb}" y2="${cy}" stroke="#222" stroke-width="1.2"/>`);
    parts.push(
      `<line x1="${xa}" y1="${cy - 5}" x2="${xa}" y2="${cy + 5}" stroke="#222"/><line x1="${xb}" y1="${cy - 5}" x2="${xb}" y2="${cy + 5}" stroke="#222"/>`,
    );
    if (c.target !== undefined) {
      const xt = xOf(c.target.min);
      parts.push(`<line x1="${xt}" y1="${y + 2}" x2="${xt}" y2="${y + rowHeight - 2}" stroke="#d0000a" stroke-width="2.5"/>`);
    }
    const text = `${x(c.ratio.median)}× (${x(c.ratio.min)}–${x(c.ratio.max)})${c.met === undefined ? '' : c.met ? ' ✓' : ' ✗'}`;
    parts.push(`<text x="${plotRight + 8}" y="${y + 16}" fill="${colour}">${escapeXml(text)}</text>`);
  });
  const ly = top + rows.length * rowHeight + 28;
  parts.push(`<rect x="12" y="${ly - 10}" width="12" height="12" fill="#2e9e4f"/><text x="30" y="${ly}">target met</text>`);
  parts.push(`<rect x="120" y="${ly - 10}" width="12" height="12" fill="#d0433a"/><text x="138" y="${ly}">target missed</text>`);
  parts.push(
    `<rect x="245" y="${ly - 10}" width="12" height="12" fill="#4a78c2"/><text x="263" y="${ly}">no target (ceilings, latency)</text>`,
  );
  parts.push(
    `<line x1="470" y1="${ly - 10}" x2="470" y2="${ly + 2}" stroke="#d0000a" stroke-width="2.5"/><text x="478" y="${ly}">target ratio</text>`,
  );
  parts.push(`<text x="580" y="${ly}" fill="#444">log scale; bars start at parity (1×); ratio = msgport / baseline</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
