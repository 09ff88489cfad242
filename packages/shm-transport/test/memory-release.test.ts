import * as fs from 'fs';
import { native } from '../src/internal/native';
import { collect, head, inProcessPair } from './helpers';

/**
 * The shared-memory channel mappings of this process (memfd "warden-channel" in /proc/self/maps), by inode. Channels
 * of the suites that ran before in this jest worker may still be mapped, and unmapped at any time by the garbage
 * collector: the test counts the mappings of its own channel's memfd only.
 */
function channelMappings(): string[] {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('memfd:warden-channel'))
    .map((l) => l.split(/\s+/)[4]!);
}

const turn = () => new Promise((r) => setImmediate(r));

describe('channel memory is unmapped when the channel closes', () => {
  it('unmaps both ends a turn after the close, not when the garbage collector gets to it', async () => {
    const before = new Set(channelMappings());
    const { router, app } = inProcessPair({ ringBytes: 1 << 16 });
    app.on('request', (req) => {
      req.respond(200, []);
      req.end(Buffer.from('ok'));
    });
    const s = router.request(head());
    s.endBody();
    expect((await collect(s)).status).toBe(200);
    const mine = channelMappings().filter((inode) => !before.has(inode));
    expect(mine).toEqual([mine[0], mine[0]]); // the router's and the app's mapping of the same memfd
    const mapped = () => channelMappings().filter((inode) => inode === mine[0]).length;
    const position = router.readPosition();
    router.close();
    await turn();
    await turn();
    expect(mapped()).toBe(1); // the router's is gone; the app learns of the close from its doorbell
    for (let i = 0; i < 100 && mapped() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(mapped()).toBe(0);
    // What the router still answers about the channel comes from what it read before the unmap.
    expect(router.readPosition()).toBe(position);
    expect(router.writePosition).toBeGreaterThan(0);
  });

  it('releases a buffer once, and only the buffers it mapped', () => {
    const n = native();
    const { fd, buffer } = n.createMemory(1 << 16);
    try {
      const view = new Uint8Array(buffer);
      view[0] = 7;
      expect(n.releaseMemory(buffer)).toBe(true);
      expect(view.length).toBe(0); // detached: no view reaches the unmapped pages
      expect(n.releaseMemory(buffer)).toBe(false);
      expect(n.releaseMemory(new ArrayBuffer(64))).toBe(false);
    } finally {
      fs.closeSync(fd);
    }
  });
});
