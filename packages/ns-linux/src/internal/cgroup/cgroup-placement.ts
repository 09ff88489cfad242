import { promises as fs, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'fs';
import * as path from 'path';
import type { ParentHook } from '@warden/core';
import { PHASE } from '@warden/core';
import type { CgroupHierarchy } from './cgroup-layout';

/** Limits of `isolation.cgroup` (extension), already validated. */
export interface CgroupLimits {
  /** Bytes, or 'max'. */
  memory_max?: number | 'max';
  pids_max?: number | 'max';
  /** cgroup v2 `cpu.max` syntax: `"QUOTA PERIOD"` or `"max PERIOD"` (microseconds). */
  cpu_max?: string;
}

interface Target {
  h: CgroupHierarchy;
  dir: string;
}

const CONTROLLER_OF: Record<keyof CgroupLimits, string> = { memory_max: 'memory', pids_max: 'pids', cpu_max: 'cpu' };

let registryFile: string | undefined;

/**
 * Where the cgroup directories this wardend creates are listed (one per line; wardend uses `<statedir>/cgroups`), so
 * that the next wardend removes those a killed one left behind ({@link sweepStaleCgroups}). Unset: nothing recorded.
 */
export function useCgroupRegistry(file: string | undefined): void {
  registryFile = file;
}

function readRegistry(): string[] {
  if (!registryFile) return [];
  try {
    return readFileSync(registryFile, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Adds or removes directories in the registry (best effort: a registry that cannot be written is skipped). */
function updateRegistry(add: string[], remove: string[]): void {
  if (!registryFile || (add.length === 0 && remove.length === 0)) return;
  const gone = new Set(remove);
  const lines = [...new Set([...readRegistry().filter((d) => !gone.has(d)), ...add])];
  try {
    writeFileSync(registryFile, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
  } catch {
    // no state dir yet, or read-only: the cleanup of a clean stop still works
  }
}

/**
 * Removes the cgroups listed in the registry that hold no process and no child cgroup (what a SIGKILLed wardend
 * left: its app processes died with it, their directories stayed), deepest first; keeps the others listed. Returns
 * the directories removed.
 */
export function sweepStaleCgroups(): string[] {
  const removed: string[] = [];
  for (const dir of readRegistry().sort((a, b) => b.length - a.length)) {
    if (hasProcesses(dir) || hasChildren(dir)) continue;
    try {
      rmdirSync(dir);
      removed.push(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') removed.push(dir);
    }
  }
  updateRegistry([], removed);
  return removed;
}

/**
 * Parent hook that creates the app's cgroup in every relevant hierarchy, writes the limits and moves the prototype
 * into it before the prototype is released (so no app code runs outside it). Hierarchies used: a cgroup v2 mount
 * (always, when there is one) and the v1 hierarchies of the pids, memory and cpu controllers. Each limit goes to v2
 * when the v2 hierarchy offers its controller, else to the v1 equivalent (`memory.limit_in_bytes`, `pids.max`,
 * `cpu.cfs_quota_us`/`cpu.cfs_period_us`). `cleanup` removes the directories it created, deepest first.
 */
export class CgroupPlacement implements ParentHook {
  readonly name = 'cgroup';
  readonly phase = PHASE.CGROUP;
  private created: string[] = [];
  private targets: Target[] = [];

  constructor(
    private readonly cgroupPath: string,
    private readonly limits: CgroupLimits,
    private readonly layout: CgroupHierarchy[],
  ) {}

  /** The directories of the app's cgroup (one per hierarchy used). */
  dirs(): string[] {
    return this.plannedTargets().map((t) => t.dir);
  }

  private plannedTargets(): Target[] {
    const v2 = this.layout.find((h) => h.version === 2);
    const v1 = this.layout.filter((h) => h.version === 1 && h.controllers.some((c) => ['pids', 'memory', 'cpu'].includes(c)));
    return [...(v2 ? [v2] : []), ...v1].map((h) => {
      const base = this.cgroupPath.startsWith('/') ? h.mountRootPath : h.ownDir;
      return { h, dir: path.join(base, this.cgroupPath) };
    });
  }

  async run(pid: number): Promise<void> {
    this.targets = this.plannedTargets();
    if (!this.targets.length) throw Object.assign(new Error('no cgroup hierarchy is mounted'), { errno: 2 });
    for (const t of this.targets) await this.mkdirs(t);
    updateRegistry(this.created, []);
    const v2 = this.targets.find((t) => t.h.version === 2);
    for (const key of Object.keys(this.limits) as (keyof CgroupLimits)[]) {
      const value = this.limits[key];
      if (value === undefined) continue;
      const ctrl = CONTROLLER_OF[key];
      if (v2 && v2.h.controllers.includes(ctrl)) {
        await this.enableController(v2, ctrl);
        await write(path.join(v2.dir, `${ctrl}.max`), String(value));
        continue;
      }
      const v1 = this.targets.find((t) => t.h.version === 1 && t.h.controllers.includes(ctrl));
      if (!v1) throw Object.assign(new Error(`no cgroup controller "${ctrl}" for ${key}`), { errno: 95 });
      if (key === 'memory_max') {
        const bytes = value === 'max' ? '-1' : String(value);
        await write(path.join(v1.dir, 'memory.limit_in_bytes'), bytes);
        await write(path.join(v1.dir, 'memory.memsw.limit_in_bytes'), bytes, true); // no swapping around the limit
      } else if (key === 'pids_max') {
        await write(path.join(v1.dir, 'pids.max'), String(value));
      } else {
        const [quota, period = '100000'] = String(value).split(/\s+/);
        await write(path.join(v1.dir, 'cpu.cfs_period_us'), period);
        await write(path.join(v1.dir, 'cpu.cfs_quota_us'), quota === 'max' ? '-1' : quota);
      }
    }
    for (const t of this.targets) await write(path.join(t.dir, 'cgroup.procs'), String(pid));
  }

  /** How many processes the OOM killer killed in the app's memory cgroup so far. */
  oomKills(): number {
    for (const t of this.targets) {
      const file = t.h.version === 2 ? 'memory.events' : 'memory.oom_control';
      try {
        const m = /^oom_kill (\d+)$/m.exec(readFileSync(path.join(t.dir, file), 'utf8'));
        if (m) return Number(m[1]);
      } catch {
        // not this hierarchy
      }
    }
    return 0;
  }

  /**
   * Removes the app's cgroup directories (the leaf even when it existed before, e.g. left by the previous prototype
   * of the same app during a restart) and the parents this hook created, deepest first. A cgroup that still holds
   * processes belongs to someone else (the next prototype of the app): it is left alone, and removed by its own
   * cleanup later.
   */
  async cleanup(): Promise<void> {
    const leaves = this.targets.map((t) => t.dir);
    const created = [...this.created].reverse();
    this.created = [];
    this.targets = [];
    const order = [...new Set([...leaves, ...created])].sort((a, b) => b.length - a.length);
    const removed: string[] = [];
    for (const dir of order) {
      for (let i = 0; ; i++) {
        try {
          await fs.rmdir(dir);
          removed.push(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            removed.push(dir);
            break;
          }
          // EBUSY: in use by other processes, or child cgroups; ENOTEMPTY on some kernels for the latter.
          if ((code !== 'EBUSY' && code !== 'ENOTEMPTY') || hasProcesses(dir) || hasChildren(dir)) break;
          // Empty but busy: the last processes are still being torn down by the kernel.
          if (i >= 100) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    updateRegistry([], removed);
  }

  private async mkdirs(t: Target): Promise<void> {
    const rel = path.relative(t.h.mount, t.dir).split('/').filter(Boolean);
    let cur = t.h.mount;
    for (const part of rel) {
      cur = path.join(cur, part);
      try {
        await fs.mkdir(cur);
        this.created.push(cur);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /** cgroup v2: a controller's files exist in a cgroup only when its parent delegates it (subtree_control). */
  private async enableController(t: Target, ctrl: string): Promise<void> {
    const chain: string[] = [];
    for (let dir = path.dirname(t.dir); dir.startsWith(t.h.mount); dir = path.dirname(dir)) {
      chain.unshift(dir);
      if (dir === t.h.mount) break;
    }
    for (const dir of chain) {
      const current = readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8');
      if (!current.split(/\s+/).includes(ctrl)) await write(path.join(dir, 'cgroup.subtree_control'), `+${ctrl}`);
    }
  }
}

async function write(file: string, text: string, optional = false): Promise<void> {
  try {
    await fs.writeFile(file, text);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (optional && e.code === 'ENOENT') return;
    throw Object.assign(new Error(`writing "${text}" to ${file}: ${e.code ?? e.message}`), {
      errno: typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
    });
  }
}

function hasProcesses(dir: string): boolean {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

function hasChildren(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((d) => d.isDirectory());
  } catch {
    return false;
  }
}
