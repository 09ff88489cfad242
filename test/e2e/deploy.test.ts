// What deploy/ and the Dockerfile promise: Kubernetes manifests valid against the Kubernetes API schemas
// (kubernetes-models), the example config they carry served by a real wardend (health route and isolated app), and
// the systemd unit's readiness contract (Type=forking: when the start command returns, the pid file names the running
// daemon and its control socket answers).
import { execFile } from 'child_process';
import { chmodSync, copyFileSync, mkdirSync, existsSync, readFileSync, readdirSync, readlinkSync } from 'fs';
import { join } from 'path';
import { promisify } from 'util';
import { parseAllDocuments } from 'yaml';
import { ROOT, cleanup, controlRequest, freePort, http, isRoot, startWardend, waitUntil, worldDir } from './support/wardend';

const K8S = join(ROOT, 'deploy/k8s');
const EXAMPLE = join(ROOT, 'deploy/example');

/** The model class of each kind the manifests use (kubernetes-models: one module per API group/version/kind). */
function modelOf(apiVersion: string, kind: string): { new (data: unknown): { validate(): void } } {
  // apps/v1 -> kubernetes-models/apps/v1/Deployment; the core group (v1) -> kubernetes-models/v1/ConfigMap
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(`kubernetes-models/${apiVersion}/${kind}`)[kind];
}

function manifests(): { file: string; doc: any }[] {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
    );
  return files(K8S).flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => ({ file, doc: d.toJS() })));
}

/** The example config with the paths of this machine: a free port on loopback and a copy of the app. */
function localConfig(name: string, port: number, appDir: string): any {
  const config = JSON.parse(readFileSync(join(EXAMPLE, name), 'utf8'));
  config.listeners = { [`127.0.0.1:${port}`]: config.listeners['*:8080'] };
  config.applications.hello.working_directory = appDir;
  return config;
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('are valid Kubernetes API objects (Deployment, Service, ConfigMap; rootful and rootless)', () => {
    const docs = manifests();
    expect(docs.map(({ file, doc }) => `${file.slice(K8S.length + 1)}:${doc.kind}`).sort()).toEqual([
      'configmap.yaml:ConfigMap',
      'deployment.yaml:Deployment',
      'rootless/configmap.yaml:ConfigMap',
      'rootless/deployment.yaml:Deployment',
      'service.yaml:Service',
    ]);
    for (const { file, doc } of docs) {
      const Model = modelOf(doc.apiVersion, doc.kind);
      expect({
        file,
        error: (() => {
          try {
            new Model(doc).validate();
            return null;
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      }).toEqual({ file, error: null });
    }
  });

  it('rejects a manifest that breaks the schema (the validation bites)', () => {
    const deployment = manifests().find((m) => m.doc.kind === 'Deployment')!.doc;
    const broken = { ...deployment, spec: { ...deployment.spec, replicas: 'two' } };
    expect(() => new (modelOf('apps/v1', 'Deployment'))(broken).validate()).toThrow(/replicas must be integer/);
  });

  it('carries deploy/example/config.json in its ConfigMaps and probes the /healthz route that config defines', () => {
    const docs = manifests();
    const configOf = (name: string) => JSON.parse(docs.find((m) => m.doc.kind === 'ConfigMap' && m.doc.metadata.name === name)!.doc.data['config.json']);
    expect(configOf('warden-config')).toEqual(JSON.parse(readFileSync(join(EXAMPLE, 'config.json'), 'utf8')));
    expect(configOf('warden-config-rootless')).toEqual(JSON.parse(readFileSync(join(EXAMPLE, 'config-rootless.json'), 'utf8')));
    for (const { doc } of docs.filter((m) => m.doc.kind === 'Deployment')) {
      const [c] = doc.spec.template.spec.containers;
      expect([c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path]).toEqual(['/healthz', '/healthz']);
      expect(configOf(doc.spec.template.spec.volumes.find((v: any) => v.name === 'config').configMap.name).routes[0]).toEqual({
        match: { uri: '/healthz' },
        action: { return: 200 },
      });
    }
  });

  it('gives the rootful pod SYS_ADMIN and NET_ADMIN, and the rootless one no capability and no privilege escalation', () => {
    const byName = Object.fromEntries(
      manifests()
        .filter((m) => m.doc.kind === 'Deployment')
        .map((m) => [m.doc.metadata.name, m.doc.spec.template.spec]),
    );
    expect(byName.warden.containers[0].securityContext.capabilities.add).toEqual(['SYS_ADMIN', 'NET_ADMIN']);
    const rootless = byName['warden-rootless'];
    expect(rootless.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(rootless.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });
});

describe('the example config of the image and the manifests, served by wardend', () => {
  it('answers /healthz itself and serves the app in its own namespaces (as root: the rootful config)', async () => {
    if (!isRoot) return console.warn('example config as root skipped: requires root (namespaces without a user namespace)');
    const dir = worldDir('warden-deploy-');
    copyFileSync(join(EXAMPLE, 'app.js'), join(dir, 'app.js'));
    const w = await startWardend([], dir);
    try {
      const port = await freePort();
      expect(await w.control('PUT', '/config', localConfig('config.json', port, dir))).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
      expect((await http(port, '/healthz')).status).toBe(200);
      const seen = JSON.parse((await http(port, '/x')).body.toString());
      expect(seen).toMatchObject({ app: 'hello', url: '/x' });
      expect(seen.pidns).not.toBe(readlinkSync('/proc/self/ns/pid'));
    } finally {
      await w.stop();
      cleanup(dir);
    }
  });

  it('serves the rootless config from a wardend that is not root (user namespace of its own)', async () => {
    if (!isRoot) return console.warn('rootless example config skipped: requires root to start wardend as nobody');
    const dir = worldDir('warden-deploy-rootless-');
    chmodSync(dir, 0o777);
    copyFileSync(join(EXAMPLE, 'app.js'), join(dir, 'app.js'));
    const w = await startWardend([], dir, { uid: 65534, gid: 65534 });
    try {
      const port = await freePort();
      expect(await w.control('PUT', '/config', localConfig('config-rootless.json', port, dir))).toEqual({
        status: 200,
        body: { success: 'Reconfiguration done.' },
      });
      expect((await http(port, '/healthz')).status).toBe(200);
      // Its user namespace maps only wardend's own uid (Unit's unprivileged rule); its pid namespace is its own.
      const seen = JSON.parse((await http(port, '/')).body.toString());
      expect(seen).toMatchObject({ app: 'hello', uid: 65534 });
      expect(seen.pidns).not.toBe(readlinkSync('/proc/self/ns/pid'));
    } finally {
      await w.stop();
      cleanup(dir);
    }
  });
});

describe('the systemd unit (deploy/systemd/wardend.service)', () => {
  const unit = readFileSync(join(ROOT, 'deploy/systemd/wardend.service'), 'utf8').replace(/\\\n\s*/g, ' ');
  const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
  /** ExecStart's wardend arguments, with the unit's directories moved into `dir` and $DAEMON_ARGS empty. */
  const execStartArgs = (dir: string) =>
    setting('ExecStart')!
      .replace(/^\/usr\/bin\/env wardend /, '')
      .replace(/\$DAEMON_ARGS/, '')
      .replace(/\/(run|var\/lib|var\/log)\/warden/g, (_m, d: string) => join(dir, d.replace('/', '-')))
      .trim()
      .split(/\s+/);

  it('is Type=forking with the pid file that its ExecStart passes to wardend', () => {
    expect(setting('Type')).toBe('forking');
    expect(setting('PIDFile')).toBe('/run/warden/wardend.pid');
    expect(setting('ExecStart')).toMatch(/^\/usr\/bin\/env wardend .*--pid \/run\/warden\/wardend\.pid/);
    expect(setting('ExecStart')).not.toMatch(/--no-daemon/);
  });

  it('is ready when its start command returns: the pid file names the daemon and its control socket answers', async () => {
    const dir = worldDir('warden-systemd-');
    const pidFile = join(dir, 'run', 'wardend.pid');
    const socket = join(dir, 'run/control.sock');
    let pid = 0;
    try {
      // What systemd runs (ExecStart), with its directories (RuntimeDirectory=, StateDirectory=, LogsDirectory=)
      // made private to this test.
      for (const d of ['run', 'var-lib', 'var-log']) mkdirSync(join(dir, d));
      await promisify(execFile)(process.execPath, [join(ROOT, 'packages/core/bin/wardend.js'), ...execStartArgs(dir), '--tmpdir', dir]);
      // No waiting: systemd reads the pid file and starts dependent units right after the parent exits.
      pid = Number(readFileSync(pidFile, 'utf8'));
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect((await controlRequest(socket, 'GET', '/config')).status).toBe(200);
    } finally {
      if (pid) {
        process.kill(pid, 'SIGTERM');
        await waitUntil(() => !existsSync(`/proc/${pid}`), `wardend (pid ${pid}) exited`); // not our child: no exit event
      }
      cleanup(dir);
    }
  });
});

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it('copies only files that exist and runs wardend in the foreground under tini with the state on a volume', () => {
    for (const [, src] of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) {
      if (src !== '.') expect(existsSync(join(ROOT, src))).toBe(true);
    }
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]);
    expect(entrypoint.slice(0, 4)).toEqual(['/usr/bin/tini', '--', 'wardend', '--no-daemon']);
    expect(entrypoint).toContain('/var/lib/warden');
    expect(dockerfile).toMatch(/^VOLUME \/var\/lib\/warden$/m);
    expect(dockerfile).toMatch(/^FROM .* AS build$/m);
  });
});
