import { execFileSync } from 'child_process';
import * as path from 'path';

/**
 * V8 counts an ArrayBuffer's length as external memory and runs a full collection once that count grew by 64 MB
 * since the last one. A channel's mapping is freed when the channel closes, not by a collection, and is resident
 * only as far as its rings were used: counted, every four 16 MiB channels a router or an app mapped cost them a full
 * collection (a new router ran one during its first PUT /config). The addon takes its mappings out of the count.
 *
 * Each case runs in a process of its own (a jest worker's heap does full collections of its own) and reports how
 * many full collections it saw.
 */
const ROOT = path.join(__dirname, '..');

function majorCollections(body: string): number {
  const script = `
    const { PerformanceObserver, constants } = require('perf_hooks');
    let major = 0;
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    }).observe({ entryTypes: ['gc'] });
    const n = require('node-gyp-build')(${JSON.stringify(ROOT)});
    const fs = require('fs');
    const keep = [];
    ${body}
    // Long enough for incremental marking started by the count to finish (V8 finalizes it from a task).
    setTimeout(() => process.stdout.write(String(major)), 400);
  `;
  return Number(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }));
}

describe('channel mappings and the garbage collector', () => {
  it('maps 256 MiB of channels, both ends, without a full collection', () => {
    const body = `
      for (let i = 0; i < 8; i++) {
        const m = n.createMemory(16 << 20);
        keep.push(m.buffer, n.mapMemory(m.fd)); // the router's end and an app's end of the same memfd
        fs.closeSync(m.fd);
      }`;
    expect(majorCollections(body)).toBe(0);
  });

  it('gives back what it took out of the count when a mapping is released or collected', () => {
    // 1 GiB of channels made and released, and 1 GiB made and dropped for the collector: were the count left too
    // high by either path, it would pass the limit.
    const body = `
      for (let i = 0; i < 64; i++) {
        const m = n.createMemory(16 << 20);
        fs.closeSync(m.fd);
        if (i % 2 === 0) n.releaseMemory(m.buffer);
      }
      for (let i = 0; i < 8; i++) keep.push(n.createMemory(16 << 20).buffer);`;
    expect(majorCollections(body)).toBe(0);
  });
});
