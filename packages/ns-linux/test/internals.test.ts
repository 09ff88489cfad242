import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { readCgroupLayout } from '../src/internal/cgroup/cgroup-layout';
import { CgroupPlacement } from '../src/internal/cgroup/cgroup-placement';
import { encodeChildOp as encodeOp, type ChildOp } from '@warden/core';
import { encodeMessage } from '../src/internal/spawner/ops';
import { HelperEvent, readEvents } from '../src/internal/spawner/status-channel';
import { helperPath } from '../src/internal/spawner/native';

describe('helper wire format', () => {
  it('encodes records as u32 length, u32 count, then per record u32 count and NUL-terminated strings', () => {
    const buf = encodeMessage([['plan', '1'], ['']]);
    expect(buf.readUInt32LE(0)).toBe(buf.length - 4);
    expect(buf.readUInt32LE(4)).toBe(2);
    expect(buf.readUInt32LE(8)).toBe(2);
    expect(buf.subarray(12, 19).toString()).toBe('plan\u00001\u0000');
    expect(buf.readUInt32LE(19)).toBe(1);
    expect(buf[23]).toBe(0);
  });

  it('refuses NUL bytes, unknown ops, unknown phases and missing, unknown or ill-typed arguments', () => {
    // What a plugin written in JavaScript could pass (TypeScript refuses these at compile time).
    const bad = (op: object) => () => encodeOp(op as ChildOp);
    expect(() => encodeMessage([['a\u0000b']])).toThrow('NUL');
    expect(bad({ op: 'format_disk', phase: 'host' })).toThrow('unknown child op "format_disk"');
    expect(bad({ op: 'sethostname', phase: 'host' })).toThrow('child op "sethostname" is missing argument "hostname"');
    expect(bad({ op: 'sethostname', phase: 300, hostname: 'h' })).toThrow('has phase 300, not one of the child steps of PHASE');
    expect(bad({ op: 'sethostname', phase: 'idmap', hostname: 'h' })).toThrow('not one of the child steps');
    expect(bad({ op: 'sethostname', phase: 'host', hostname: 'h', root: '/' })).toThrow('has no argument "root"');
    expect(bad({ op: 'mount', phase: 'mount_system', target: '/t', flags: -1 })).toThrow('"flags" must be a non-negative integer');
    expect(bad({ op: 'rlimit', phase: 'drop_privs', resource: 7, soft: 'lots', hard: 1 })).toThrow('"soft" must be a non-negative integer or "inf"');
    expect(bad({ op: 'bind', phase: 'mount_config', target: '/t', source: '/s', readonly: 'yes' })).toThrow('"readonly" must be a boolean');
    expect(bad({ op: 'write_file', phase: 'host', path: '/p', data: 'a\u0000' })).toThrow('"data" contains a NUL byte');
  });

  it("encodes an op as [name, arg...] in the table's order, with defaults, decimal numbers and 1/0", () => {
    expect(encodeOp({ op: 'bind', phase: 'mount_config', target: '/t', source: '/s', readonly: true })).toEqual(['bind', '', '/t', '/s', '1']);
    expect(encodeOp({ op: 'caps', phase: 'drop_privs', keep: 1n << 63n })).toEqual(['caps', '9223372036854775808']);
    expect(encodeOp({ op: 'rlimit', phase: 'drop_privs', resource: 7, soft: 'inf', hard: 0 })).toEqual(['rlimit', '7', 'inf', '0']);
    expect(encodeOp({ op: 'mount', phase: 'mount_system', target: '/proc', source: 'proc', fstype: 'proc', flags: 14 })).toEqual([
      'mount',
      '',
      '/proc',
      'proc',
      'proc',
      '14',
      '',
    ]);
  });
});

describe('status channel', () => {
  it('parses JSON lines split across chunks and reports anything else as bad', () => {
    const stream = new PassThrough();
    const events: HelperEvent[] = [];
    const bad: string[] = [];
    readEvents(
      stream,
      (e) => events.push(e),
      (l) => bad.push(l),
    );
    stream.write('{"ev":"clo');
    stream.write('ned","pid":5}\nnot json\n[1,2]\n{"pid":3}\n\n{"ev":"ready"}\n');
    expect(events).toEqual([{ ev: 'cloned', pid: 5 }, { ev: 'ready' }]);
    expect(bad).toEqual(['not json', '[1,2]', '{"pid":3}']);
  });

  it('drops an endless line instead of buffering it forever', () => {
    const stream = new PassThrough();
    const bad: string[] = [];
    readEvents(
      stream,
      () => undefined,
      (l) => bad.push(l),
    );
    stream.write('x'.repeat((1 << 20) + 10));
    expect(bad).toHaveLength(1);
  });
});

describe('cgroup layout and placement (fake cgroupfs)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'cg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fakeProc(mountinfo: string[], cgroup: string[]): string {
    const proc = path.join(dir, 'proc');
    mkdirSync(proc);
    writeFileSync(path.join(proc, 'mountinfo'), mountinfo.join('\n') + '\n');
    writeFileSync(path.join(proc, 'cgroup'), cgroup.join('\n') + '\n');
    return proc;
  }

  it('reads a hybrid layout: v1 controllers and a cgroup2 mount', () => {
    const proc = fakeProc(
      [
        '30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory',
        '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct',
        '32 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
        '33 25 0:29 / /nonexistent/unified rw - cgroup2 cgroup2 rw',
      ],
      ['4:memory:/svc/wardend', '3:cpu,cpuacct:/svc', '1:name=systemd:/x', '0::/svc/wardend'],
    );
    const layout = readCgroupLayout(proc);
    expect(layout.map((h) => [h.version, h.mount, h.controllers, h.ownDir])).toEqual([
      [1, '/sys/fs/cgroup/memory', ['memory'], '/sys/fs/cgroup/memory/svc/wardend'],
      [1, '/sys/fs/cgroup/cpu,cpuacct', ['cpu', 'cpuacct'], '/sys/fs/cgroup/cpu,cpuacct/svc'],
      [2, '/nonexistent/unified', [], '/nonexistent/unified/svc/wardend'],
    ]);
  });

  it('reads a pure v2 layout whose mount shows a subtree (a container)', () => {
    const proc = fakeProc(['40 1 0:30 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw'], ['0::/ctr/app']);
    const [h] = readCgroupLayout(proc);
    expect([h.version, h.ownDir]).toEqual([2, '/sys/fs/cgroup/app']);
  });

  it('on cgroup v2 enables the controllers down the tree, writes memory.max/pids.max/cpu.max and the pid', async () => {
    const root = path.join(dir, 'cg');
    const own = path.join(root, 'wardend');
    mkdirSync(own, { recursive: true });
    writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
    writeFileSync(path.join(own, 'cgroup.subtree_control'), '');
    const hook = new CgroupPlacement('apps/a', { memory_max: 64 << 20, pids_max: 20, cpu_max: '50000 100000' }, [
      { version: 2, mount: root, controllers: ['memory', 'pids', 'cpu'], ownDir: own, mountRootPath: root },
    ]);
    writeFileSync(path.join(dir, 'x'), '');
    mkdirSync(path.join(own, 'apps'));
    writeFileSync(path.join(own, 'apps', 'cgroup.subtree_control'), '');
    await hook.run(1234);
    const leaf = path.join(own, 'apps/a');
    expect(hook.dirs()).toEqual([leaf]);
    expect(readFileSync(path.join(leaf, 'memory.max'), 'utf8')).toBe(String(64 << 20));
    expect(readFileSync(path.join(leaf, 'pids.max'), 'utf8')).toBe('20');
    expect(readFileSync(path.join(leaf, 'cpu.max'), 'utf8')).toBe('50000 100000');
    expect(readFileSync(path.join(leaf, 'cgroup.procs'), 'utf8')).toBe('1234');
    expect(readFileSync(path.join(own, 'apps', 'cgroup.subtree_control'), 'utf8')).toBe('+cpu');
  });

  it('uses the v1 files when the v2 hierarchy lacks the controller', async () => {
    const v2 = path.join(dir, 'unified');
    const mem = path.join(dir, 'memory');
    const cpu = path.join(dir, 'cpu');
    for (const d of [v2, mem, cpu]) mkdirSync(d);
    const hook = new CgroupPlacement('/abs', { memory_max: 1000, cpu_max: 'max 50000' }, [
      { version: 2, mount: v2, controllers: [], ownDir: v2, mountRootPath: v2 },
      { version: 1, mount: mem, controllers: ['memory'], ownDir: path.join(mem, 'x'), mountRootPath: mem },
      { version: 1, mount: cpu, controllers: ['cpu'], ownDir: cpu, mountRootPath: cpu },
    ]);
    await hook.run(7);
    expect(readFileSync(path.join(mem, 'abs/memory.limit_in_bytes'), 'utf8')).toBe('1000');
    expect(readFileSync(path.join(cpu, 'abs/cpu.cfs_quota_us'), 'utf8')).toBe('-1');
    expect(readFileSync(path.join(cpu, 'abs/cpu.cfs_period_us'), 'utf8')).toBe('50000');
    for (const d of [v2, mem, cpu]) expect(readFileSync(path.join(d, 'abs/cgroup.procs'), 'utf8')).toBe('7');
  });
});

describe('the spawn helper binary', () => {
  // Every prototype is a long-lived clone of the helper: a helper at a fixed address (a plain -static link) would
  // give each prototype the same code addresses. ELF e_type 3 (ET_DYN) is a position-independent executable,
  // dynamic or static-pie; 2 (ET_EXEC) is one loaded at a fixed address.
  it('is position-independent, so that it and its prototypes load at random addresses', () => {
    const header = readFileSync(helperPath()).subarray(0, 18);
    expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(header.readUInt16LE(16)).toBe(3);
  });
});
