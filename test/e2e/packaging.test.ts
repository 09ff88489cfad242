// The packages as a user gets them: `npm pack` of every workspace, published to a throw-away local registry for the
// @warden scope (every other package comes from npm's cache or the npm registry, as for a user), installed into an
// empty project with install scripts off (so nothing is compiled: the native parts must be prebuilt) and globally
// into a temporary prefix (the bundled server, @warden/server).
import { spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';
import { join, relative } from 'path';
import { ROOT, cleanup, controlRequest, freePort, haveGo, http, isRoot, worldDir } from './support/wardend';

interface Packed {
  name: string;
  version: string;
  filename: string;
  files: { path: string }[];
}

/** Runs a command to its end; rejects with its output when it fails. Asynchronous: the registry runs in this process. */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}\n${err}`))));
  });
}

/** A registry serving only the packed @warden/* tarballs (packuments and tarballs), under a path unique to this run. */
async function startScopeRegistry(packed: Packed[], tarballDir: string): Promise<{ url: string; server: Server }> {
  const base = `/${randomBytes(6).toString('hex')}`;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    const tarball = packed.find((p) => path === `${base}/-/${p.filename}`);
    if (tarball) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(readFileSync(join(tarballDir, tarball.filename)));
      return;
    }
    const pkg = packed.find((p) => path === `${base}/${p.name}`);
    if (!pkg) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    const data = readFileSync(join(tarballDir, pkg.filename));
    const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', pkg.name.replace('@warden/', ''), 'package.json'), 'utf8'));
    const { address, port } = server.address() as AddressInfo;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        name: pkg.name,
        'dist-tags': { latest: pkg.version },
        versions: {
          [pkg.version]: {
            ...manifest,
            _id: `${pkg.name}@${pkg.version}`,
            dist: {
              tarball: `http://${address}:${port}${base}/-/${pkg.filename}`,
              shasum: createHash('sha1').update(data).digest('hex'),
              integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
            },
          },
        },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${base}/`, server };
}

const WORKSPACES = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).workspaces as string[]).map((w) => w.replace('packages/', ''));
const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
const CROSS_ARM64 = onPath('aarch64-linux-gnu-gcc');
// The musl prebuilds (scripts/prebuild-native.js): ns-linux's with musl-gcc (x64) or zig, shm-transport's with zig only.
const ZIG = process.env.WARDEN_ZIG ? existsSync(process.env.WARDEN_ZIG) : onPath('zig');
const MUSL_GCC = process.arch === 'x64' && onPath('musl-gcc');
const MUSL_LOADER = `/lib/ld-musl-${process.arch === 'x64' ? 'x86_64' : 'aarch64'}.so.1`;

describe('packages installed from their npm pack tarballs', () => {
  let dir: string;
  let packed: Packed[];
  let registry: { url: string; server: Server };
  let consumer: string;
  let prefix: string;
  const npmArgs = () => [`--@warden:registry=${registry.url}`, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'];

  beforeAll(async () => {
    dir = worldDir('warden-pack-');
    const tarballs = join(dir, 'tarballs');
    mkdirSync(tarballs);
    // prepack builds the prebuilt native binaries (scripts/prebuild-native.js; cached while the sources are unchanged).
    const out = await run('npm', ['pack', '--workspaces', '--json', '--pack-destination', tarballs], { cwd: ROOT });
    packed = JSON.parse(out.slice(out.indexOf('[')));
    registry = await startScopeRegistry(packed, tarballs);

    consumer = join(dir, 'consumer');
    mkdirSync(consumer);
    const deps = Object.fromEntries(packed.filter((p) => p.name !== '@warden/server').map((p) => [p.name, p.version]));
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: deps }));
    prefix = join(dir, 'global');
    await Promise.all([
      run('npm', ['install', ...npmArgs()], { cwd: consumer }),
      run('npm', ['install', '-g', '--prefix', prefix, ...npmArgs(), '@warden/server@0.1.0'], { cwd: dir }),
    ]);
  }, 240000);

  afterAll(async () => {
    await new Promise((r) => registry?.server.close(r));
    if (dir) cleanup(dir);
  });

  it('packs every workspace, each with its LICENSE (Apache-2.0), README and no build leftovers', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(WORKSPACES.map((w) => `@warden/${w}`).sort());
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      expect({ [p.name]: files.filter((f) => /^(LICENSE|README\.md|package\.json)$/.test(f)).sort() }).toEqual({
        [p.name]: ['LICENSE', 'README.md', 'package.json'],
      });
      expect({ [p.name]: files.filter((f) => /\.tsbuildinfo$|^native\/bin\/|(^|\/)build\/|_test\.go$|\.source-sha256$/.test(f)) }).toEqual({ [p.name]: [] });
    }
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004/);
  });

  it('ships the sources of every source map it ships', () => {
    for (const p of packed) {
      const files = new Set(p.files.map((f) => f.path));
      const pkgDir = join(ROOT, 'packages', p.name.replace('@warden/', ''));
      const missing: string[] = [];
      for (const map of [...files].filter((f) => f.endsWith('.map'))) {
        const { sources } = JSON.parse(readFileSync(join(pkgDir, map), 'utf8')) as { sources: string[] };
        for (const s of sources) {
          const rel = join(map, '..', s);
          if (!files.has(rel)) missing.push(`${map} -> ${rel}`);
        }
      }
      expect({ [p.name]: missing }).toEqual({ [p.name]: [] });
    }
  });

  it('points main, types, every exports target and every bin at a file in the tarball', () => {
    for (const p of packed) {
      const files = new Set(p.files.map((f) => f.path));
      const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', p.name.replace('@warden/', ''), 'package.json'), 'utf8'));
      expect(pkg.exports).toBeDefined();
      const targets: string[] = [];
      const collect = (v: unknown): void => {
        if (typeof v === 'string') targets.push(v);
        else if (v && typeof v === 'object') Object.values(v).forEach(collect);
      };
      collect([pkg.main, pkg.types, pkg.exports, pkg.bin]);
      const missing = targets.filter((t) => !files.has(t.replace(/^\.\//, '')));
      expect({ [p.name]: missing }).toEqual({ [p.name]: [] });
    }
  });

  it('ships prebuilt native binaries for linux x64 and arm64 (glibc, and musl where its toolchain is here) and no compiled-here build directory', () => {
    const names = (pkg: string) =>
      packed
        .find((p) => p.name === pkg)!
        .files.map((f) => f.path)
        .filter((f) => f.startsWith('prebuilds/'))
        .sort();
    const arches = CROSS_ARM64 || process.arch === 'arm64' ? ['arm64', 'x64'] : [process.arch];
    const shmMusl = ZIG ? ['arm64', 'x64'] : [];
    const nsMusl = ZIG ? ['arm64', 'x64'] : MUSL_GCC ? ['x64'] : [];
    const shm = [...arches.map((a) => `linux-${a}/@warden+shm-transport.glibc.node`), ...shmMusl.map((a) => `linux-${a}/@warden+shm-transport.musl.node`)];
    const ns = [
      ...arches.flatMap((a) => [`linux-${a}/fd-pass.node`, `linux-${a}/warden-spawn`]),
      ...nsMusl.flatMap((a) => [`linux-${a}/fd-pass.musl.node`, `linux-${a}/warden-spawn.musl`]),
    ];
    expect(names('@warden/shm-transport')).toEqual(shm.map((f) => `prebuilds/${f}`).sort());
    expect(names('@warden/ns-linux')).toEqual(ns.map((f) => `prebuilds/${f}`).sort());
    // Without aarch64-linux-gnu-gcc (scripts/setup.sh installs it) the arm64 prebuilds cannot be made here.
    if (!CROSS_ARM64) process.stderr.write('packaging test: aarch64-linux-gnu-gcc missing: arm64 prebuilds not checked\n');
    if (!ZIG) process.stderr.write('packaging test: zig missing: no musl prebuild of shm-transport, nor arm64 musl of ns-linux, to check\n');
  });

  it("musl prebuilds need only musl libc and N-API: musl's loader resolves every other symbol; the musl spawn helper is static and isolates", async () => {
    const nsDir = join(consumer, 'node_modules/@warden/ns-linux/prebuilds', `linux-${process.arch}`);
    const shmDir = join(consumer, 'node_modules/@warden/shm-transport/prebuilds', `linux-${process.arch}`);
    const addons = [join(nsDir, 'fd-pass.musl.node'), join(shmDir, '@warden+shm-transport.musl.node')].filter((f) => existsSync(f));
    if (addons.length === 0 || !existsSync(MUSL_LOADER)) {
      return console.warn(`skipped: no musl prebuild for ${process.arch} or no ${MUSL_LOADER} (Debian's musl) to check it with`);
    }
    // No Node built for musl is available here, so the addons are not loaded by node: `ld-musl --list` loads each
    // with musl's dynamic linker (musl binds every symbol at load time) and names what does not resolve.
    for (const addon of addons) {
      const listed = await new Promise<string>((ok) => {
        const child = spawn(MUSL_LOADER, ['--list', addon], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('close', () => ok(out));
      });
      expect(listed).toContain(`libc.so => ${MUSL_LOADER}`);
      const unresolved = [...listed.matchAll(/Error relocating [^:]+: (\S+): symbol not found/g)].map((m) => m[1]!);
      expect({ addon, other: unresolved.filter((s) => !s.startsWith('napi_')) }).toEqual({ addon, other: [] });
      expect(unresolved.length).toBeGreaterThan(0); // it does use N-API, which node provides
    }
    const helper = join(nsDir, 'warden-spawn.musl');
    if (!existsSync(helper)) return;
    expect(readFileSync(helper).includes(Buffer.from('ld-linux'))).toBe(false); // static: no glibc loader named
    if (!isRoot) return console.warn('skipped: running the musl spawn helper needs root (namespaces)');
    const out = await run(
      process.execPath,
      [
        join(consumer, 'node_modules/@warden/ns-linux/bin/warden-isolate.js'),
        '--isolation',
        '{"namespaces":{"pid":true,"uname":true,"mount":true},"hostname":"musl"}',
        '--',
        '/bin/sh',
        '-c',
        'echo $$ $(hostname)',
      ],
      { env: { ...process.env, WARDEN_SPAWN_HELPER: helper } },
    );
    expect(out.trim()).toBe('2 musl');
  });

  it('ships the Go module unit.nginx.org/go complete: the files go/unit links to are in the tarball as files', () => {
    const files = packed.find((p) => p.name === '@warden/app-types')!.files.map((f) => f.path);
    const linked = readdirSync(join(ROOT, 'packages/app-types/go/unit/internal'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isSymbolicLink())
      .map((e) => join('go/unit/internal', relative(join(ROOT, 'packages/app-types/go/unit/internal'), join(e.parentPath ?? e.path, e.name))));
    expect(linked.length).toBeGreaterThan(0);
    expect(linked.filter((f) => !files.includes(f))).toEqual([]);
    // The links are back in the checkout after packing.
    for (const f of linked) expect(lstatSync(join(ROOT, 'packages/app-types', f)).isSymbolicLink()).toBe(true);
  });

  it('builds a Go app written for Unit against the installed go/unit module, as the Go README tells', async () => {
    if (!haveGo()) {
      console.warn('skipped: go is not installed');
      return;
    }
    const unitDir = join(consumer, 'node_modules/@warden/app-types/go/unit');
    const app = join(dir, 'unit-app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'go.mod'),
      `module example.com/unitapp\n\ngo 1.19\n\nrequire unit.nginx.org/go v0.0.0\n\nreplace unit.nginx.org/go => ${unitDir}\n`,
    );
    writeFileSync(
      join(app, 'main.go'),
      'package main\n\nimport (\n\t"io"\n\t"net/http"\n\n\tunit "unit.nginx.org/go"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })\n\tunit.ListenAndServe(":8080", nil)\n}\n',
    );
    await run('go', ['build', '-o', join(app, 'app'), '.'], { cwd: app, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' } });
    expect(existsSync(join(app, 'app'))).toBe(true);
  }, 120000);

  it('declares @types/node in every package whose public declarations use Node types', () => {
    const usesNode =
      /reference types="node"|from '(node:)?(http|https|net|tls|fs|events|stream|child_process|os|path|url|buffer|util|crypto)'|\bNodeJS\.|\bBuffer\b/;
    for (const w of WORKSPACES) {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', w, 'package.json'), 'utf8'));
      const dts = packed
        .find((p) => p.name === pkg.name)!
        .files.map((f) => f.path)
        .filter((f) => f.endsWith('.d.ts'));
      const needs = dts.some((f) => usesNode.test(readFileSync(join(ROOT, 'packages', w, f), 'utf8')));
      expect({ [pkg.name]: needs && !pkg.dependencies?.['@types/node'] }).toEqual({ [pkg.name]: false });
    }
  });

  it('loads every package in an empty project installed without install scripts, native parts included', async () => {
    const smoke = `
      const assert = require('assert');
      const idmap = require('@warden/idmap');
      assert.deepStrictEqual(idmap.parseIdMap([{ container: 0, host: 1000, size: 1 }], 'uidmap').length, 1);
      const latin1 = require('@warden/latin1');
      assert.strictEqual(latin1.latin1Slice(Buffer.from('h\xe9', 'latin1'), 0, 2), 'h\xe9');
      const { RouteMatcher } = require('@warden/http-router');
      new RouteMatcher([{ match: { uri: '/healthz' }, action: { return: 200 } }]);
      const { RouterChannel } = require('@warden/shm-transport');
      const ch = RouterChannel.create();   // the prebuilt addon: memfd + socketpair
      assert.strictEqual(ch.fds.length, 2);
      ch.closeChildFds();
      assert.strictEqual(typeof require('@warden/core').ConfigValidator, 'function');
      const ns = require('@warden/ns-linux');
      assert.strictEqual(typeof ns.register, 'function');
      assert.strictEqual(typeof require('@warden/app-types').register, 'function');
      assert.strictEqual(typeof require('@warden/app-types/http').createServer, 'function');
      assert.strictEqual(typeof require('@warden/unit-http').createServer, 'function');
      for (const p of ['shm-transport', 'ns-linux']) {
        assert.ok(!require('fs').existsSync(require.resolve('@warden/' + p + '/package.json').replace('package.json', 'build')), p + ' was compiled');
      }
      console.log('smoke ok');
    `;
    expect(await run(process.execPath, ['-e', smoke], { cwd: consumer })).toContain('smoke ok');
  });

  it('compiles a strict TypeScript consumer of every package, with node16 and node10 module resolution', async () => {
    writeFileSync(
      join(consumer, 'index.ts'),
      `import { parseIdMap, type IdMapEntry } from '@warden/idmap';
import { latin1Slice, latin1Write, DIRECT_LATIN1 } from '@warden/latin1';
import { RouteMatcher, type RouterConfig } from '@warden/http-router';
import { RouterChannel, ShmError } from '@warden/shm-transport';
import { ConfigValidator, WardenError } from '@warden/core';
import { register as registerNs } from '@warden/ns-linux';
import { register as registerApps, NodeLauncher } from '@warden/app-types';
import * as wardenHttp from '@warden/app-types/http';
import * as unitHttp from '@warden/unit-http';
const entries: IdMapEntry[] = parseIdMap([{ container: 0, host: 1000, size: 1 }], 'uidmap');
const config: RouterConfig | undefined = undefined;
export const used = [entries, config, latin1Slice, latin1Write, DIRECT_LATIN1, RouteMatcher, RouterChannel, ShmError, ConfigValidator, WardenError, registerNs, registerApps,
  NodeLauncher, wardenHttp.createServer, unitHttp.createServer];
`,
    );
    // node16 checks every declaration file too (skipLibCheck off: an undeclared type dependency is an error there);
    // node10 (main/types/typesVersions instead of exports) only needs to resolve the same imports.
    const tsconfig = (module: string, resolution: string) => ({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module,
        moduleResolution: resolution,
        esModuleInterop: true,
        skipLibCheck: resolution === 'node10',
      },
      files: ['index.ts'],
    });
    writeFileSync(join(consumer, 'tsconfig.node16.json'), JSON.stringify(tsconfig('node16', 'node16')));
    writeFileSync(join(consumer, 'tsconfig.node10.json'), JSON.stringify(tsconfig('commonjs', 'node10')));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    // @types/node is not declared by the consumer: it comes in as a dependency of the packages that need it.
    expect(JSON.parse(readFileSync(join(consumer, 'package.json'), 'utf8')).dependencies['@types/node']).toBeUndefined();
    await Promise.all(['tsconfig.node16.json', 'tsconfig.node10.json'].map((p) => run(process.execPath, [tsc, '-p', p], { cwd: consumer })));
  }, 120000);

  it('puts wardend, warden and warden-isolate on PATH with npm install -g of @warden/server', async () => {
    const bin = join(prefix, 'bin');
    expect(readdirSync(bin).sort()).toEqual(['warden', 'warden-isolate', 'wardend']);
    expect((await run(join(bin, 'wardend'), ['--version'])).trim()).toMatch(/\d+\.\d+\.\d+/);
    expect(await run(join(bin, 'warden'), ['--help'])).toMatch(/usage/i);
    expect(await run(join(bin, 'warden-isolate'), ['--help'])).toMatch(/usage/i);
  });

  it('serves a node app in its own namespaces from the globally installed server (prebuilt spawn helper)', async () => {
    const work = worldDir('warden-pack-run-');
    const socket = join(work, 'control.sock');
    const wardend = spawn(join(prefix, 'bin', 'wardend'), ['--no-daemon', '--control', `unix:${socket}`, '--statedir', join(work, 'state'), '--tmpdir', work], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    wardend.stdout!.on('data', (d) => (log += d));
    wardend.stderr!.on('data', (d) => (log += d));
    try {
      await new Promise<void>((ok, fail) => {
        const check = () => (/wardend ready/.test(log) ? ok() : undefined);
        wardend.stdout!.on('data', check);
        wardend.stderr!.on('data', check);
        wardend.once('exit', (code) => fail(new Error(`wardend exited with ${code}:\n${log}`)));
      });
      writeFileSync(join(work, 'app.js'), "require('http').createServer((q, s) => s.end('pid ' + process.pid)).listen(8080);\n");
      const port = await freePort();
      // As root: a pid namespace; otherwise the rootless form (a user namespace mapping our own ids).
      const isolation = isRoot ? { namespaces: { pid: true } } : { namespaces: { credential: true, pid: true } };
      const answer = await controlRequest(socket, 'PUT', '/config', {
        listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
        routes: [{ match: { uri: '/healthz' }, action: { return: 200 } }, { action: { pass: 'applications/hello' } }],
        applications: { hello: { type: 'node', working_directory: work, script: 'app.js', isolation } },
      });
      expect(answer).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
      expect((await http(port, '/healthz')).status).toBe(200);
      const res = await http(port, '/');
      expect({ status: res.status, body: res.body.toString() }).toEqual({ status: 200, body: expect.stringMatching(/^pid \d$/) });
      // Nothing was compiled at install time: the spawn helper that started the app is the prebuilt one.
      const nsLinux = join(prefix, 'lib/node_modules/@warden/server/node_modules/@warden/ns-linux');
      expect([existsSync(join(nsLinux, 'prebuilds', `linux-${process.arch}`, 'warden-spawn')), existsSync(join(nsLinux, 'native/bin'))]).toEqual([true, false]);
    } finally {
      wardend.kill('SIGTERM');
      await new Promise((r) => (wardend.exitCode !== null ? r(null) : wardend.once('exit', r)));
      cleanup(work);
    }
  });
});
