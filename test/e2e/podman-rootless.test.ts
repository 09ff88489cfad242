// docs/deploy.md "Rootless" in a container: the image run as an unprivileged user (--user 10001:10001, every
// capability dropped, no_new_privs) with deploy/example/config-rootless.json still isolates its app in namespaces
// of its own, and stops gracefully. Needs podman and an image built from the Dockerfile (docs/deploy.md, "What was
// verified": no registry is reachable here, so it is built by hand from a Debian-packaged base and tagged
// localhost/warden:dev, or WARDEN_IMAGE); skips, saying so, without them. The runtime flags this machine needs (runc,
// cgroupfs, explicit ulimits: a hybrid cgroup layout and no CAP_SYS_RESOURCE) are harmless elsewhere.
import { execFile, execFileSync } from 'child_process';
import { chownSync, mkdirSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, isRoot, waitUntil, worldDir } from './support/wardend';

const IMAGE = process.env.WARDEN_IMAGE ?? 'localhost/warden:dev';

function podmanReady(): string | null {
  if (!isRoot) return 'it runs podman as root (the rootless part is the container user, uid 10001)';
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'podman is not installed';
  }
  try {
    execFileSync('podman', ['image', 'exists', IMAGE], { stdio: 'ignore' });
  } catch {
    return `no image ${IMAGE} (build it as docs/deploy.md says, or set WARDEN_IMAGE)`;
  }
  return null;
}

function podman(args: string[], timeout = 60000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((ok) => execFile('podman', args, { timeout }, (e, out, err) => ok({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err })));
}

const skip = podmanReady();
if (skip) console.warn(`podman rootless test skipped: ${skip}`);
const describePodman = skip ? describe.skip : describe;

describePodman('the image run rootless (unprivileged user, no capabilities) with podman', () => {
  let dir: string;
  let port: number;
  const name = `warden-rootless-${process.pid}`;

  beforeAll(async () => {
    dir = worldDir('warden-podman-');
    for (const d of ['state', 'run']) {
      mkdirSync(join(dir, d));
      chownSync(join(dir, d), 10001, 10001); // what the named volume / tmpfs of the docs' command give uid 10001
    }
    port = await freePort();
    const run = await podman([
      'run', '-d', '--name', name, '--runtime', 'runc', '--cgroup-manager', 'cgroupfs',
      '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096',
      '-p', `127.0.0.1:${port}:8080`,
      '--user', '10001:10001', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
      '-v', `${join(dir, 'state')}:/var/lib/warden`, '-v', `${join(dir, 'run')}:/run/warden`,
      '-v', `${join(ROOT, 'deploy/example/config-rootless.json')}:/etc/warden/config.json:ro`,
      IMAGE,
    ]); // prettier-ignore
    expect(run.err).toBe('');
    await waitUntil(async () => (await http(port, '/healthz').catch(() => undefined))?.status === 200, 'the container answering /healthz', 60000);
  }, 120000);

  afterAll(async () => {
    await podman(['rm', '-f', name]);
    cleanup(dir);
  }, 60000);

  it('serves the app from namespaces of its own, as the unprivileged user, with no capabilities', async () => {
    const app = JSON.parse((await http(port, '/')).body.toString());
    expect({ pid: app.pid, uid: app.uid }).toEqual({ pid: 2, uid: 10001 });
    const find = 'for p in /proc/[0-9]*; do if grep -qa bin/wardend $p/cmdline; then grep -E "^(Uid|CapEff|NoNewPrivs):" $p/status; break; fi; done';
    const status = await podman(['exec', name, 'sh', '-c', find]);
    expect(status.out.replace(/\t/g, ' ')).toMatch(/Uid: 10001 10001 10001 10001\nCapEff: 0000000000000000\nNoNewPrivs: 1\n/);
  });

  it('stops gracefully on podman stop (exit 0, apps stopped)', async () => {
    expect((await podman(['stop', '-t', '10', name])).code).toBe(0);
    expect((await podman(['inspect', name, '--format', '{{.State.ExitCode}}'])).out.trim()).toBe('0');
    expect((await podman(['logs', name])).err + (await podman(['logs', name])).out).toContain('wardend stopped');
  }, 60000);
});
