// Pure functions of the benchmark report: parsing wrk's output, medians, the tables (Markdown, also printed to the
// terminal), the SVG chart and the README section. No I/O here, so bench/test/report.test.js checks them on fixed input.
'use strict';

/** Milliseconds from a wrk duration such as `812.00us`, `1.25ms`, `2.01s`, `1.5m`. */
function parseDuration(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(String(text).trim());
  if (!m) throw new Error(`not a wrk duration: "${text}"`);
  return Math.round(Number(m[1]) * { us: 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 }[m[2]]) / 1e6; // via ns: no float residue
}

/**
 * The figures of one `wrk --latency` run: requests/s, p50 and p99 in ms, the request count, and `errors`: the
 * non-2xx/3xx responses plus every socket error (connect, read, write, timeout) — a request a client saw fail.
 */
function parseWrk(out) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  if (!rps || !p50 || !p99 || !requests) throw new Error('wrk output without requests/s or latency distribution');
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  return { rps: Number(rps[1]), p50: parseDuration(p50[1]), p99: parseDuration(p99[1]), requests: Number(requests[1]), errors: non2xx + socketErrors };
}

/** The median of a list of numbers (mean of the two middle ones for an even count); NaN when empty. */
function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * One throughput case's summary from its interleaved rounds (`a` = the baseline, `b` = the measured side): median
 * req/s, p50, p99 of each side, and the medians of the per-round ratios b/a (a round's pair ran back to back, so
 * its ratio is steadier than a ratio of medians), and the failed requests summed over all rounds.
 */
function summarize(c) {
  const side = (s) => ({
    label: s.label,
    rps: median(s.rounds.map((r) => r.rps)),
    p50: median(s.rounds.map((r) => r.p50)),
    p99: median(s.rounds.map((r) => r.p99)),
    errors: s.rounds.reduce((n, r) => n + r.errors, 0),
  });
  const pairs = c.a.rounds.map((r, i) => [r, c.b.rounds[i]]).filter(([, r]) => r);
  return {
    a: side(c.a),
    b: side(c.b),
    rpsRatio: median(pairs.map(([a, b]) => b.rps / a.rps)),
    p99Ratio: median(pairs.map(([a, b]) => b.p99 / a.p99)),
  };
}

const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const mb = (kb) => (!Number.isFinite(kb) ? '–' : Math.abs(kb) < 1024 ? `${Math.round(kb)} kB` : `${(kb / 1024).toFixed(1)} MB`);

/** Column alignments for markdownTable: every column right-aligned (numbers) except those in `text`. */
function rightAligned(n, text) {
  return Array.from({ length: n }, (_, i) => !text.includes(i));
}

/** A Markdown table from a header row and rows of cells (right-aligned when `right[i]`). */
function markdownTable(header, rows, right = []) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (right[i] ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

/** The throughput table: one row per side of every case, ratios on the measured side. */
function throughputTable(cases) {
  const rows = [];
  for (const c of cases) {
    const s = summarize(c);
    const base = [c.name, String(c.connections)];
    rows.push([...base, s.a.label, fmtInt(s.a.rps), fmt(s.a.p50), fmt(s.a.p99), '1.00', '1.00', String(s.a.errors)]);
    rows.push([...base, s.b.label, fmtInt(s.b.rps), fmt(s.b.p50), fmt(s.b.p99), fmt(s.rpsRatio), fmt(s.p99Ratio), String(s.b.errors)]);
  }
  return markdownTable(['Scenario', 'Conns', 'Server', 'req/s', 'p50 ms', 'p99 ms', 'req/s ratio', 'p99 ratio', 'Failed'], rows, rightAligned(9, [0, 2]));
}

/** The table of the other scenarios (cold start, memory, reconfiguration): measure, value, target. */
function figuresTable(r) {
  const rows = [];
  for (const c of r.cold ?? []) {
    rows.push([
      `Cold start, ${c.name}: PUT /config → first 200 (median of ${c.samples.length})`,
      `${fmt(c.firstMs, 1)} ms (PUT answered after ${fmt(c.putMs, 1)} ms)`,
      '≤ 20 ms',
    ]);
  }
  const m = r.memory;
  if (m) {
    const split = m.idleMainKb !== undefined ? ` (main ${mb(m.idleMainKb)} + routers ${m.idleRoutersKb.map(mb).join(' + ')})` : '';
    rows.push(['wardend RSS, idle (no apps), main and routers', `${mb(m.idleKb)}${split}`, '≤ 50 MB']);
    if (m.idlePssKb !== undefined)
      rows.push(['wardend PSS (shared pages counted once), idle; with the idle connections', `${mb(m.idlePssKb)}; ${mb(m.connectionsPssKb)}`, '']);
    if (m.idleAnonKb !== undefined)
      rows.push([
        "wardend RSS, idle, by kind: anonymous (its heaps and stacks) + files (mostly the node binary's pages, the same in every node process)",
        `${mb(m.idleAnonKb)} + ${mb(m.idleFileKb)}`,
        '',
      ]);
    rows.push([`wardend RSS, ${m.apps} apps`, `${mb(m.appsKb)} (+${mb((m.appsKb - m.idleKb) / m.apps)} per app)`, '']);
    const closed = m.closedMeanwhile ? `; ${fmtInt(m.closedMeanwhile)} closed by wardend while idle` : '';
    rows.push([
      `wardend RSS, ${fmtInt(m.connections)} idle keep-alive connections`,
      `${mb(m.connectionsKb)} (+${mb(m.connectionsKb - m.appsKb)}${closed})`,
      '≤ +40 MB',
    ]);
    if (m.settledConnectionsKb !== undefined)
      rows.push([
        `… the same with wardend idle ${fmt(m.settledAfterMs / 1000, 0)} s before and after they open (V8 gives back what a burst grew)`,
        `${mb(m.settledConnectionsKb)} (+${mb(m.settledConnectionsKb - m.settledBeforeKb)})`,
        '≤ +40 MB',
      ]);
    rows.push(['Per isolated app: prototype RSS (its spawn helper)', `${mb(m.prototypeKb)} (${mb(m.helperKb)})`, '≤ 2 MB']);
    rows.push([
      'Per app process: Go app RSS; channel mapping, resident in app / in wardend',
      `${mb(m.appRssKb)}; ${mb(m.channelKb)}, ${mb(m.channelAppRssKb)} / ${mb(m.wardendChannelRssKb)}`,
      '',
    ]);
    if (m.channelAfterSmallKb !== undefined)
      rows.push([
        'Per app process: channel resident after 2 s of 64 B answers / then 2 s of 64 KiB answers (32 connections)',
        `${mb(m.channelAfterSmallKb)} / ${mb(m.channelAfterLargeKb)}`,
        '',
      ]);
  }
  for (const [scenario, kb] of Object.entries(r.peakRssKb ?? {})) rows.push([`wardend peak RSS (VmHWM, main + routers), ${scenario} scenario`, mb(kb), '']);
  const q = r.reconfig;
  if (q) {
    rows.push([`Apply a config with ${fmtInt(q.routes)} routes (median of ${q.applyMs.length})`, `${fmt(median(q.applyMs), 1)} ms`, '']);
    rows.push([`Failed requests during ${q.reconfigs} reconfigurations under load (${fmtInt(q.requests)} requests)`, String(q.failed), '0']);
  }
  return rows.length ? markdownTable(['Measure', 'Value', 'Target'], rows) : '';
}

/** One line naming the machine and the run (cores, CPU, memory, kernel, versions, load average, label). */
function machineLine(r) {
  const m = r.machine;
  return (
    `${r.date}, ${m.cores} × ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.go}, ${m.wrk}; ` +
    `load average ${m.loadStart.map((x) => x.toFixed(1)).join(' ')} at start${m.loadEnd ? `, ${m.loadEnd.map((x) => x.toFixed(1)).join(' ')} at end` : ''}; wrk -t${r.options.threads}, ${r.options.duration} s × ${r.options.rounds} rounds` +
    (r.label ? ` — **${r.label}**` : '')
  );
}

/** The whole report in Markdown: the machine line, the throughput table, the other figures. */
/** Router processes: req/s and p99 per side (medians of the rounds, ratio to direct), CPU per request, RSS. */
function routersTables(rt) {
  const rows = [];
  for (const c of rt.cases) {
    const med = (s, k) => median(s.rounds.map((x) => x[k]));
    const direct = c.sides[0];
    for (const s of c.sides) {
      rows.push([
        c.name,
        String(c.connections),
        s.label,
        String(Math.round(med(s, 'rps'))),
        med(s, 'p99').toFixed(2),
        (med(s, 'rps') / med(direct, 'rps')).toFixed(2),
        (med(s, 'p99') / med(direct, 'p99')).toFixed(2),
        String(s.rounds.reduce((a, x) => a + x.errors, 0)),
      ]);
    }
  }
  const t1 = markdownTable(['Router processes', 'Conns', 'Server', 'req/s', 'p99 ms', 'req/s ratio', 'p99 ratio', 'Failed'], rows, rightAligned(8, [0, 2]));
  const cpu = rt.cpu.map((c) => [
    c.app,
    c.side,
    Math.round(c.rps).toString(),
    c.usPerRequest.main.toFixed(1),
    c.usPerRequest.routers.toFixed(1),
    c.usPerRequest.apps.toFixed(1),
  ]);
  const t2 = markdownTable(['CPU per request', 'Server', 'req/s', 'main µs', 'routers µs', 'app µs'], cpu, rightAligned(6, [0, 1]));
  const mb = (kb) => (kb / 1024).toFixed(1);
  const mem = rt.memory.map((m) => [
    m.app,
    m.side,
    mb(m.idle.mainKb),
    m.idle.routersKb.map(mb).join(' + ') || '—',
    mb(m.loaded.mainKb),
    m.loaded.routersKb.map(mb).join(' + ') || '—',
  ]);
  const t3 = markdownTable(['RSS (MB)', 'Server', 'main idle', 'routers idle', 'main loaded', 'routers loaded'], mem, rightAligned(6, [0, 1]));
  const balance = (rt.balance ?? []).map(
    (b) => `${b.app}, ${b.side}: ${b.routers.map((x) => `router ${x.index} ${x.accepted} connections, ${x.requests} requests`).join('; ')} (since start)`,
  );
  return [t1, t2, t3, ...(balance.length ? [`Balance over the routers (one shared listening socket): ${balance.join(' | ')}`] : [])].join('\n\n');
}

function markdownReport(r) {
  return [machineLine(r), r.throughput?.length ? throughputTable(r.throughput) : '', r.routers ? routersTables(r.routers) : '', figuresTable(r)]
    .filter(Boolean)
    .join('\n\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * An SVG chart of the throughput cases: per case, a bar for the req/s ratio and one for the p99 ratio (measured side
 * over baseline), on one axis with a line at 1.0. Self-contained, no fonts or scripts beyond a generic family.
 */
function svgChart(r) {
  const cases = (r.throughput ?? []).map((c) => ({ name: `${c.name}, ${c.connections} conns`, ...summarize(c) }));
  const W = 820,
    left = 300,
    right = 60,
    top = 56,
    rowH = 34,
    barH = 12;
  const H = top + Math.max(1, cases.length) * rowH + 40;
  // The axis runs to 2× at least and 4× at most; a longer bar is cut at the edge (its label keeps the value).
  const max = Math.min(4, Math.ceil(Math.max(2, ...cases.flatMap((c) => [c.rpsRatio, c.p99Ratio].filter(Number.isFinite)))));
  const x = (v) => left + (v / max) * (W - left - right);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Warden bench ${esc(r.date)}: through wardend (or namespaces on) / baseline</text>`,
    `<text x="10" y="38" fill="#555">${esc(`${r.machine.cores} cores, load ${r.machine.loadStart.map((v) => v.toFixed(1)).join(' ')}${r.label ? ` — ${r.label}` : ''}`)}</text>`,
    `<rect x="${W - 250}" y="28" width="10" height="10" fill="#3b7dd8"/><text x="${W - 235}" y="37">req/s ratio (higher is better)</text>`,
    `<rect x="${W - 250}" y="42" width="10" height="10" fill="#e8892b"/><text x="${W - 235}" y="51">p99 ratio (lower is better)</text>`,
  ];
  for (let t = 0; t <= max + 1e-9; t += 0.5) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 4}" x2="${x(t).toFixed(1)}" y2="${H - 30}" stroke="${t === 1 ? '#000' : '#ddd'}"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${H - 14}" text-anchor="middle">${t.toFixed(1)}×</text>`);
  }
  cases.forEach((c, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(c.name)}</text>`);
    [
      [c.rpsRatio, '#3b7dd8', y + 3],
      [c.p99Ratio, '#e8892b', y + 3 + barH + 2],
    ].forEach(([v, color, by]) => {
      if (!Number.isFinite(v)) return;
      const end = x(Math.min(v, max));
      out.push(`<rect x="${left}" y="${by}" width="${(end - left).toFixed(1)}" height="${barH}" fill="${color}"/>`);
      out.push(`<text x="${(Math.min(end, W - right) + 4).toFixed(1)}" y="${by + barH - 2}" font-size="11">${v.toFixed(2)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const BEGIN = '<!-- bench:latest -->';
const END = '<!-- /bench:latest -->';

/** `readme` with the text between the bench:latest markers replaced by `section` (appended with markers if absent). */
function replaceLatest(readme, section) {
  const block = `${BEGIN}\n${section.trim()}\n${END}`;
  const i = readme.indexOf(BEGIN);
  const j = readme.indexOf(END);
  if (i < 0 || j < i) return `${readme.trimEnd()}\n\n${block}\n`;
  return readme.slice(0, i) + block + readme.slice(j + END.length);
}

module.exports = {
  parseDuration,
  parseWrk,
  median,
  summarize,
  markdownTable,
  throughputTable,
  figuresTable,
  machineLine,
  markdownReport,
  svgChart,
  replaceLatest,
};
