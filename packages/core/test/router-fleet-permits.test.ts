import { existsSync, fstatSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import type { WardenConfig } from '../src/contracts';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import type { FdMessage, RouterMessage } from '../src/runtime/fleet/protocol';

/**
 * A router is unprivileged and parses client bytes, so main treats what it asks for as untrusted: it binds only the
 * listeners and opens only the access log of the configuration main validated (running or being applied), whatever
 * key, address or path the router sends.
 */
describe('what main opens for a router', () => {
  let dir: string;
  let fleet: RouterFleet;
  const sent: { msg: FdMessage; fds: number[] }[] = [];
  const link = { index: 1, sendFds: (msg: FdMessage, fds: number[]) => sent.push({ msg, fds: fds.map((fd) => fstatSync(fd) && fd) }) };
  const ask = (m: RouterMessage) => (fleet as unknown as { onMessage(l: unknown, m: RouterMessage): void }).onMessage(link, m);
  const permit = (c: WardenConfig) => (fleet as unknown as { permit(c: WardenConfig): void }).permit(c);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-permits-'));
    sent.length = 0;
    fleet = new RouterFleet(0, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
  });
  afterEach(async () => {
    await fleet.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens the configured access log and refuses any other path (no file is created)', () => {
    const log = join(dir, 'access.log');
    permit({ access_log: log } as WardenConfig);
    ask({ op: 'open-log', id: 1, path: log });
    expect(sent[0]!.msg).toEqual({ op: 'log', id: 1, ok: true });
    expect(sent[0]!.fds).toHaveLength(1);
    const other = join(dir, 'passwd');
    ask({ op: 'open-log', id: 2, path: other });
    expect(sent[1]!.msg).toMatchObject({ op: 'log', id: 2, ok: false });
    expect(sent[1]!.fds).toEqual([]);
    expect(existsSync(other)).toBe(false);
  });

  it('binds only listeners of the configuration, by its own reading of their addresses', () => {
    const sock = join(dir, 'a.sock');
    permit({ listeners: { [`unix:${sock}`]: { pass: 'routes' } } } as WardenConfig);
    const planted = join(dir, 'planted.sock');
    ask({ op: 'listen', id: 1, key: `unix:${planted}` });
    expect(sent[0]!.msg).toMatchObject({ op: 'listener', id: 1, ok: false });
    expect(existsSync(planted)).toBe(false);
    // The key of a configured listener: main binds the address it parsed from the config.
    ask({ op: 'listen', id: 2, key: `unix:${sock}` });
    expect(sent[1]!.msg).toEqual({ op: 'listener', id: 2, ok: true });
    expect(existsSync(sock)).toBe(true);
    expect(existsSync(planted)).toBe(false);
  });
});
