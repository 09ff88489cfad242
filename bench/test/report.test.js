const { parseDuration, parseWrk, median, summarize, throughputTable, figuresTable, markdownReport, svgChart, replaceLatest } = require('../report');

const WRK = `Running 5s test @ http://127.0.0.1:4000/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  500.00us  20.00ms   90.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.50ms
     99%    2.01s
  52000 requests in 5.00s, 7.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:  10400.00
Transfer/sec:      1.40MB
`;

const round = (rps, p50, p99, errors = 0) => ({ rps, p50, p99, requests: rps * 5, errors });
const RESULT = {
  date: '2026-01-02T03:04:05Z',
  label: 'fixture',
  machine: {
    cores: 2,
    cpu: 'Test CPU',
    memGiB: 4,
    kernel: '6.1.0',
    node: '20.0.0',
    go: 'go1.19',
    wrk: 'wrk 4.1.0',
    loadStart: [0.1, 0.2, 0.3],
    loadEnd: [1, 2, 3],
  },
  options: { duration: 5, rounds: 3, threads: 1 },
  throughput: [
    {
      name: 'Go GET 64 B',
      connections: 32,
      a: { label: 'direct', rounds: [round(1000, 1, 2), round(1200, 1, 4), round(1100, 1, 3)] },
      b: { label: 'wardend', rounds: [round(900, 1, 3), round(1200, 2, 4), round(1320, 2, 3, 1)] },
    },
  ],
  cold: [{ name: 'Go, no namespaces', firstMs: 31.25, putMs: 30.5, samples: [{}, {}] }],
  memory: {
    idleKb: 51200,
    apps: 10,
    appsKb: 61440,
    connections: 10000,
    connectionsKb: 81920,
    prototypeKb: 1400,
    helperKb: 1500,
    appRssKb: 4500,
    channelKb: 2052,
    channelAppRssKb: 12,
    wardendChannelRssKb: 16,
  },
  peakRssKb: { throughput: 92160 },
  reconfig: { routes: 1000, applyMs: [10, 30, 20], reconfigs: 100, requests: 123456, failed: 0 },
};

describe('bench report', () => {
  it('converts every wrk duration unit to milliseconds', () => {
    expect(parseDuration('812.00us')).toBeCloseTo(0.812);
    expect(parseDuration('1.10ms')).toBe(1.1);
    expect(parseDuration('2.01s')).toBe(2010);
    expect(parseDuration('1.5m')).toBe(90000);
    expect(() => parseDuration('fast')).toThrow(/not a wrk duration/);
  });

  it('reads requests/s, p50, p99 and counts non-2xx and every socket error as failed', () => {
    const r = parseWrk(WRK);
    expect(r).toEqual({ rps: 10400, p50: 0.812, p99: 2010, requests: 52000, errors: 15 });
  });

  it('refuses wrk output without a latency distribution', () => {
    expect(() => parseWrk('Requests/sec: 5\n')).toThrow(/latency distribution/);
  });

  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarizes a case with the medians of its per-round ratios', () => {
    const s = summarize(RESULT.throughput[0]);
    expect(s.a.rps).toBe(1100);
    expect(s.b.rps).toBe(1200);
    expect(s.rpsRatio).toBeCloseTo(1.0); // rounds: 0.9, 1.0, 1.2
    expect(s.p99Ratio).toBeCloseTo(1.0); // rounds: 1.5, 1.0, 1.0
    expect(s.b.errors).toBe(1);
  });

  it('prints a throughput row per side with the ratios on the measured side', () => {
    expect(throughputTable(RESULT.throughput).split('\n')).toEqual([
      '| Scenario | Conns | Server | req/s | p50 ms | p99 ms | req/s ratio | p99 ratio | Failed |',
      '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| Go GET 64 B | 32 | direct | 1,100 | 1.00 | 3.00 | 1.00 | 1.00 | 0 |',
      '| Go GET 64 B | 32 | wardend | 1,200 | 2.00 | 3.00 | 1.00 | 1.00 | 1 |',
    ]);
  });

  it('prints cold start, memory and reconfiguration figures beside their targets', () => {
    const t = figuresTable(RESULT);
    expect(t).toContain('| Cold start, Go, no namespaces: PUT /config → first 200 (median of 2) | 31.3 ms (PUT answered after 30.5 ms) | ≤ 20 ms |');
    expect(t).toContain('| wardend RSS, idle (no apps), main and routers | 50.0 MB | ≤ 50 MB |');
    expect(t).not.toContain('by kind');
    expect(figuresTable({ memory: { ...RESULT.memory, idleAnonKb: 35840, idleFileKb: 15360 } })).toContain(
      "| wardend RSS, idle, by kind: anonymous (its heaps and stacks) + files (mostly the node binary's pages, the same in every node process) | 35.0 MB + 15.0 MB |  |",
    );
    expect(t).toContain('| wardend RSS, 10,000 idle keep-alive connections | 80.0 MB (+20.0 MB) | ≤ +40 MB |');
    expect(t).toContain('| Per isolated app: prototype RSS (its spawn helper) | 1.4 MB (1.5 MB) | ≤ 2 MB |');
    expect(t).toContain('| Per app process: Go app RSS; channel mapping, resident in app / in wardend | 4.4 MB; 2.0 MB, 12 kB / 16 kB |  |');
    expect(t).toContain('| wardend peak RSS (VmHWM, main + routers), throughput scenario | 90.0 MB |  |');
    expect(t).not.toContain('channel resident after');
    expect(figuresTable({ memory: { ...RESULT.memory, channelAfterSmallKb: 2060, channelAfterLargeKb: 9216 } })).toContain(
      '| Per app process: channel resident after 2 s of 64 B answers / then 2 s of 64 KiB answers (32 connections) | 2.0 MB / 9.0 MB |  |',
    );
    expect(figuresTable({ memory: { ...RESULT.memory, closedMeanwhile: 3 } })).toContain('(+20.0 MB; 3 closed by wardend while idle)');
    expect(t).not.toContain('idle 45 s');
    expect(figuresTable({ memory: { ...RESULT.memory, settledBeforeKb: 56320, settledConnectionsKb: 71680, settledAfterMs: 45020 } })).toContain(
      '| … the same with wardend idle 45 s before and after they open (V8 gives back what a burst grew) | 70.0 MB (+15.0 MB) | ≤ +40 MB |',
    );
    expect(t).toContain('| Apply a config with 1,000 routes (median of 3) | 20.0 ms |  |');
    expect(t).toContain('| Failed requests during 100 reconfigurations under load (123,456 requests) | 0 | 0 |');
  });

  it('names the machine, the run and its label above the tables', () => {
    expect(markdownReport(RESULT).split('\n')[0]).toBe(
      '2026-01-02T03:04:05Z, 2 × Test CPU, 4 GiB, Linux 6.1.0, Node 20.0.0, go1.19, wrk 4.1.0; load average 0.1 0.2 0.3 at start, 1.0 2.0 3.0 at end; wrk -t1, 5 s × 3 rounds — **fixture**',
    );
  });

  it('draws one pair of bars per case in a well-formed SVG with escaped text', () => {
    const svg = svgChart({ ...RESULT, label: 'loaded <machine> & co' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Go GET 64 B, 32 conns');
    expect(svg).toContain('loaded &lt;machine&gt; &amp; co');
    expect(svg.match(/<rect [^>]*fill="#3b7dd8"\/>/g)).toHaveLength(2); // legend + one req/s bar
    expect(svg.match(/<rect [^>]*fill="#e8892b"\/>/g)).toHaveLength(2); // legend + one p99 bar
    expect(svg.match(/</g).length).toBe(svg.match(/>/g).length);
  });

  it('replaces the latest section of a README, or appends it when missing', () => {
    const readme = '# Bench\n\n<!-- bench:latest -->\nold\n<!-- /bench:latest -->\n\nMore.\n';
    expect(replaceLatest(readme, 'new table\n')).toBe('# Bench\n\n<!-- bench:latest -->\nnew table\n<!-- /bench:latest -->\n\nMore.\n');
    expect(replaceLatest('# Bench\n', 'table')).toBe('# Bench\n\n<!-- bench:latest -->\ntable\n<!-- /bench:latest -->\n');
  });
});

describe('bench chart axis', () => {
  it('cuts a bar longer than 4× at the edge and keeps its value as the label', () => {
    const c = RESULT.throughput[0];
    const wide = { ...RESULT, throughput: [{ ...c, b: { ...c.b, rounds: c.a.rounds.map((r) => ({ ...r, rps: r.rps * 10 })) } }] };
    const svg = svgChart(wide);
    expect(svg).toContain('>10.00</text>');
    expect(svg).toContain('>4.0×</text>');
    const widths = [...svg.matchAll(/<rect x="300" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.max(...widths)).toBeLessThanOrEqual(820 - 300 - 60);
  });
});
