import { join } from 'path';
import { expectNodeHelloServes } from './support/node-hello';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const FIXTURES = join(ROOT, 'packages/app-types/test/fixtures');
const ready = isRoot && haveGo() && (process.arch === 'x64' || process.arch === 'arm64');
const describeRoot = ready ? describe : describe.skip;
if (!ready) console.warn("seccomp e2e skipped: needs root (apps run as root to get past the kernel's own checks), go, and x86_64 or aarch64");

const EPERM = 1;
const DENIED = ['mount', 'unshare', 'kexec_load', 'bpf', 'ptrace', 'keyctl', 'add_key', 'perf_event_open'];
const namespaces = { mount: true, pid: true };

describeRoot('seccomp: Go and Node apps under the default profile, served over shared memory', () => {
  let dir: string;
  let w: Wardend;
  const port: Record<string, number> = {};
  const calls = async (app: string, names: string[]) => {
    const res = await http(port[app], `/calls?names=${names.join(',')}`);
    return { status: res.status, errno: res.status === 200 ? (JSON.parse(res.body.toString()) as Record<string, number>) : {} };
  };

  beforeAll(async () => {
    dir = worldDir('warden-seccomp-');
    const probe = goBuild(join(ROOT, 'test/e2e/apps/sysprobe'), join(dir, 'sysprobe'));
    w = await startWardend([], dir);
    const go = (seccomp?: unknown) => ({
      type: 'external',
      executable: probe,
      user: 'root',
      isolation: seccomp === undefined ? { namespaces } : { namespaces, seccomp },
    });
    const apps: Record<string, unknown> = {
      plain: go(), // a Unit config: isolation without seccomp
      go: go('default'),
      kill: go({ action: 'kill' }),
      allow: go({ allow: ['ptrace'] }),
      node: { type: 'node', working_directory: FIXTURES, script: 'hello-cjs.js', isolation: { seccomp: 'default' } },
    };
    for (const n of Object.keys(apps)) port[n] = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.keys(apps).map((n) => [`127.0.0.1:${port[n]}`, { pass: `applications/${n}` }])),
      applications: apps,
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('a Go app under the default profile serves HTTP through the channel', async () => {
    const res = await http(port.go, '/');
    expect([res.status, res.body.toString()]).toEqual([200, 'sysprobe\n']);
  });

  it('an unmodified Node app under the default profile serves GET and a 1 MiB POST', async () => {
    await expectNodeHelloServes(port.node);
  });

  it('inside the Go app mount, unshare, kexec_load, bpf, ptrace, keyctl, add_key and perf_event_open fail with EPERM; without seccomp they do not', async () => {
    const filtered = await calls('go', DENIED);
    const plain = await calls('plain', DENIED);
    for (const name of DENIED) {
      expect([name, filtered.errno[name]]).toEqual([name, EPERM]);
      expect([name, plain.errno[name]]).not.toEqual([name, EPERM]);
    }
    expect((await calls('go', ['getpid'])).errno).toEqual({ getpid: 0 });
  });

  it('an allow list re-enables ptrace and keeps bpf refused', async () => {
    const plain = await calls('plain', ['ptrace']);
    expect((await calls('allow', ['ptrace', 'bpf'])).errno).toEqual({ ptrace: plain.errno.ptrace, bpf: EPERM });
  });

  it('with action "kill" a denied call kills the app process (its request gets 502) and the supervisor starts a new one', async () => {
    const before = await http(port.kill, '/');
    expect(before.status).toBe(200);
    const killed = await calls('kill', ['getpid', 'mount']);
    expect(killed.status).toBe(502);
    await waitUntil(async () => (await http(port.kill, '/')).status === 200, 'the kill app serves again');
  });

  it('refuses a config naming an unknown system call, with the name and path in the detail', async () => {
    const res = await w.control('PUT', '/config/applications/go/isolation/seccomp', { deny: ['mount', 'frobnicate'] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'Invalid configuration.',
      detail: expect.stringContaining('Unknown system call "frobnicate" in "seccomp.deny".'),
    });
    expect((res.body as { detail: string }).detail).toContain('/applications/go/isolation/seccomp/deny/1');
    expect((await http(port.go, '/')).status).toBe(200); // the running config is untouched
  });
});
