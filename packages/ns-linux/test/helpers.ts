import 'reflect-metadata';
import { execFileSync, spawnSync } from 'child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { container as rootContainer, DependencyContainer } from 'tsyringe';
import { AppConfig, AppPrototype, ConfigValidationError, buildSpawnPlan, PlanContext, ProcessSpawner, SpawnPlan, TOKENS } from '@warden/core';
import { resolveCredentials, validateIsolation } from '@warden/core/internal';
import { register } from '@warden/ns-linux';

jest.setTimeout(60000);

/** Root is needed for namespaces with other users' ids, cgroups and mounts; CI runs as root. */
export const isRoot = process.getuid?.() === 0;
/** `describe` that skips (with the reason in its name) when not root. */
export const describeRoot = isRoot ? describe : describe.skip;

export const NATIVE_BIN = path.resolve(__dirname, '../native/bin');

/** Builds the native helper (if needed) and the static probe into a temp dir. */
export function setupNative(): { dir: string; probe: string } {
  execFileSync('make', ['-s', '-C', path.resolve(__dirname, '../native')], { stdio: 'inherit' });
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-ns-'));
  chmodSync(dir, 0o755); // app users (nobody, mapped ids) must reach the probe
  const probe = path.join(dir, 'probe');
  execFileSync('cc', ['-static', '-O1', '-o', probe, path.join(__dirname, 'fixtures/probe.c')]);
  return { dir, probe };
}

/** The warden-isolate command, run from dist/ like an installed package. */
export const ISOLATE_BIN = path.resolve(__dirname, '../bin/warden-isolate.js');

/** Compiles the package so that {@link ISOLATE_BIN} runs the current sources. */
export function buildCli(): void {
  execFileSync(path.resolve(__dirname, '../../../node_modules/.bin/tsc'), ['-b', path.resolve(__dirname, '..')], { stdio: 'inherit' });
}

/**
 * Registers beforeAll/afterAll that build the native helper and probe (and, with `cli`, warden-isolate) into a temp
 * dir and remove it; the returned object is filled in by beforeAll.
 */
export function nativeFixture(opts: { cli?: boolean } = {}): { dir: string; probe: string } {
  const f = { dir: '', probe: '' };
  beforeAll(() => {
    Object.assign(f, setupNative());
    if (opts.cli) buildCli();
  });
  afterAll(() => cleanup(f.dir));
  return f;
}

/** Runs warden-isolate to completion. */
export function isolate(args: string[], input?: string) {
  return spawnSync(process.execPath, [ISOLATE_BIN, ...args], { encoding: 'utf8', input, timeout: 20000 });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A child container with ns-linux registered, as wardend's per-app containers are. */
export function pluginContainer(): DependencyContainer {
  const c = rootContainer.createChildContainer();
  register(c);
  return c;
}

export function planContext(app: AppConfig, appName = 'probe'): PlanContext {
  const user = app.user ?? (isRoot ? 'nobody' : String(process.getuid?.()));
  return {
    appName,
    daemonUid: process.geteuid?.() ?? 0,
    daemonGid: process.getegid?.() ?? 0,
    defaultUser: 'nobody',
    defaultGroup: 'nogroup',
    tmpdir: tmpdir(),
    credentials: resolveCredentials(user, app.group),
  };
}

/** The validation message wardend would answer for an external app with this `isolation`, or 'valid'. */
export function validationMessage(isolation: unknown): string {
  const app = { type: 'external', isolation } as AppConfig;
  try {
    validateIsolation(pluginContainer(), app, planContext(app));
  } catch (e) {
    if (e instanceof ConfigValidationError) return e.message;
    throw e;
  }
  return 'valid';
}

/** Validates and plans `app` exactly as wardend does. */
export function planFor(app: AppConfig, c = pluginContainer()): { plan: SpawnPlan; c: DependencyContainer } {
  const ctx = planContext(app);
  validateIsolation(c, app, ctx);
  return { plan: buildSpawnPlan(c, app, ctx), c };
}

export async function startPrototype(app: AppConfig): Promise<AppPrototype> {
  const { plan, c } = planFor(app);
  return c.resolve<ProcessSpawner>(TOKENS.ProcessSpawner).createPrototype('probe', plan);
}

export interface ProbeReport {
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  groups: number[];
  ns: Record<string, string>;
  hostname: string;
  interfaces: string[];
  lo_up: boolean;
  NoNewPrivs: string;
  CapEff: string;
  CapBnd: string;
  NSpid: string;
  cgroup: string;
  mounts: string;
  cwd: string;
  limits: string;
  [k: string]: unknown;
}

let seq = 0;

/** Runs the probe once through the prototype and returns its report and the host pid it ran as. */
export async function runProbe(
  proto: AppPrototype,
  probe: string,
  dir: string,
  args: string[] = [],
  fds: number[] = [],
): Promise<{ report: ProbeReport; hostPid: number; exit: { code: number | null; signal: string | null } }> {
  const out = path.join(dir, `out-${++seq}.json`);
  const proc = await proto.spawn({ executable: probe, argv: ['probe', ...args], env: {}, stdout: out }, fds);
  const exit = await proc.exited;
  const text = readFileSync(out, 'utf8');
  return { report: JSON.parse(text) as ProbeReport, hostPid: proc.pid, exit };
}

/** The host's namespace ids, as the probe reports them. */
export function hostNamespaces(probe: string): Record<string, string> {
  return (JSON.parse(execFileSync(probe, { encoding: 'utf8' })) as ProbeReport).ns;
}

/** Polls `cond` every 10 ms until it is true or `ms` pass (for kernel state that has no event to wait on). */
export async function waitUntil(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

/** Children of a host pid, from /proc (includes zombies until they are reaped). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A field of /proc/PID/status as seen from the host. */
export function hostStatus(pid: number, key: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}:`));
  return line?.slice(key.length + 1).trim();
}
