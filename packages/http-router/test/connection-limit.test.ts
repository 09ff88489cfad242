import { EventEmitter } from 'events';
import * as fs from 'fs';
import { connect, type Socket } from 'net';
import * as os from 'os';
import * as path from 'path';
import { HttpRouter } from '../src';
import { ConnectionLimit, defaultMaxConnections, readOpenFilesLimit, reservedDescriptors } from '../src/internal/connection-limit';
import type { HttpSettings } from '../src/internal/compiled-config';
import { EchoGateway, fetchText } from './helpers';

interface Line {
  level: string;
  msg?: string;
}

function capture(): { lines: Line[]; logger: ConstructorParameters<typeof ConnectionLimit>[0] } {
  const lines: Line[] = [];
  const at = (level: string) => (_o: unknown, msg?: string) => lines.push({ level, msg });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } };
}

/** Stands in for an accepted socket: records destroy(), emits 'close' on demand. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
}

const fake = () => new FakeSocket() as unknown as Socket & FakeSocket;

describe('the default connection limit', () => {
  it('reads the soft open-files limit of this process from /proc/self/limits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-limits-'));
    try {
      const file = path.join(dir, 'limits');
      fs.writeFileSync(
        file,
        'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            300                  4096                 files     \n',
      );
      expect(readOpenFilesLimit(file)).toBe(300);
      fs.writeFileSync(file, 'Max open files            unlimited            unlimited            files     \n');
      expect(readOpenFilesLimit(file)).toBeNull();
      expect(readOpenFilesLimit(path.join(dir, 'missing'))).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (process.platform === 'linux') expect(readOpenFilesLimit()).toBeGreaterThan(0);
  });

  it('keeps an eighth of the descriptors (128 to 8192) in reserve and halves the rest when routes proxy', () => {
    expect(reservedDescriptors(300)).toBe(128);
    expect(reservedDescriptors(20000)).toBe(2500);
    expect(reservedDescriptors(1 << 20)).toBe(8192);
    expect(defaultMaxConnections(300, false)).toBe(172);
    expect(defaultMaxConnections(300, true)).toBe(86);
    expect(defaultMaxConnections(20000, false)).toBe(17500);
    expect(defaultMaxConnections(100, false)).toBe(1);
    expect(defaultMaxConnections(null, false)).toBe(Infinity);
  });
});

describe('ConnectionLimit', () => {
  const settings = (max: number | null, proxies = false) => ({ maxConnections: max, proxies }) as HttpSettings;

  it('closes connections over the limit, warns once per episode, and admits again below it', () => {
    const { lines, logger } = capture();
    const limit = new ConnectionLimit(logger);
    limit.configure(settings(10));
    const socks = Array.from({ length: 10 }, fake);
    for (const s of socks) expect(limit.admit(s)).toBe(true);
    const over = Array.from({ length: 5 }, fake);
    for (const s of over) expect(limit.admit(s)).toBe(false);
    expect(over.every((s) => s.destroyed)).toBe(true);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    socks[0].emit('close');
    expect(limit.admit(fake())).toBe(true); // a place came free
    for (const s of socks.slice(1, 4)) s.emit('close'); // 7 open: below 90 %
    expect(lines.filter((l) => /below the limit again/.test(l.msg ?? ''))).toHaveLength(1);
    for (let i = 0; i < 3; i++) limit.admit(fake());
    expect(limit.admit(fake())).toBe(false);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2); // a new episode
    expect(limit.refused).toBe(6);
  });

  it('derives the limit from the fd limit when max_connections is not set', () => {
    const limit = new ConnectionLimit(capture().logger);
    limit.configure(settings(null));
    expect(limit.limit).toBe(defaultMaxConnections(readOpenFilesLimit(), false));
    limit.configure(settings(null, true));
    expect(limit.limit).toBe(defaultMaxConnections(readOpenFilesLimit(), true));
  });

  it('backs off after EMFILE: new connections are closed for a while, logged once while failures repeat', () => {
    const { lines, logger } = capture();
    const limit = new ConnectionLimit(logger);
    limit.configure(settings(100));
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    expect(limit.acceptFailed(emfile)).toBe(true);
    expect(limit.acceptFailed(emfile)).toBe(true);
    expect(limit.admit(fake())).toBe(false);
    expect(lines.filter((l) => /out of file descriptors/.test(l.msg ?? ''))).toHaveLength(1);
    expect(limit.acceptFailed(Object.assign(new Error('other'), { code: 'EINVAL' }))).toBe(false);
  });
});

describe('max_connections on a router', () => {
  it('closes client connections beyond settings.http.max_connections and serves again when one ends', async () => {
    const { lines, logger } = capture();
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway(), logger });
    const listeners = { '127.0.0.1:0': { pass: 'applications/app' } };
    await (await router.prepare({ listeners, applications: { app: {} }, settings: { http: { max_connections: 3 } } })).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = connect(port, '127.0.0.1');
        await new Promise((r) => s.once('connect', r));
        idle.push(s);
      }
      await expect(fetchText(port, '/')).rejects.toThrow();
      expect(lines.filter((l) => /connection limit reached/.test(l.msg ?? ''))).toHaveLength(1);
      const gone = new Promise((r) => idle[0].once('close', r));
      idle[0].destroy();
      await gone;
      // The router sees the close a moment after the client: retry until it admits (bounded).
      let status = 0;
      for (let i = 0; i < 100 && status === 0; i++) status = (await fetchText(port, '/').catch(() => ({ status: 0 }))).status;
      expect(status).toBe(200);
    } finally {
      for (const s of idle) s.destroy();
      await router.close(100);
    }
  });
});
