import * as path from 'path';
import type { AppConfig, IsolationExtra, PlanContext, SpawnPlanBuilder } from '@warden/core';
import { PHASE } from '@warden/core';
import { MS } from '../clone-flags';
import { invalid, namespaceOn } from './util';

/** One entry of `isolation.mounts` (extension, Unit issue #477). */
export interface MountEntry {
  source?: string;
  target: string;
  type?: 'bind' | 'tmpfs';
  readonly?: boolean;
  options?: string;
}

const FORBIDDEN_TARGETS = ['/proc', '/sys'];

/**
 * `isolation.rootfs` + `automount` (Unit) and `mounts` (extension). With a mount namespace: `/` is made private,
 * the rootfs is bound onto itself, proc (`<rootfs>/proc`, nosuid,nodev,noexec) and tmpfs (`<rootfs>/tmp`,
 * nosuid,nodev,noexec, size 1m, mode 1777) are mounted per `automount`, then `mounts`, then pivot_root. Every
 * target is resolved inside the rootfs (openat2 RESOLVE_IN_ROOT), so a symlink cannot lead a mount outside.
 * With `mount` and `pid` but no rootfs, a fresh proc is mounted on `/proc` (unless `automount.procfs` is false), so
 * the app sees only its own processes. Without a mount namespace: chroot (as Unit); nothing is mounted, because the mounts would land in the host's
 * mount namespace (`automount` is then ignored and `mounts` refused).
 */
export class RootfsExtra implements IsolationExtra {
  readonly keys = ['rootfs', 'automount', 'mounts'] as const;
  readonly schema = {
    rootfs: { type: 'string' },
    automount: {
      type: 'object',
      properties: { language_deps: { type: 'boolean' }, procfs: { type: 'boolean' }, tmpfs: { type: 'boolean' } },
      additionalProperties: false,
    },
    mounts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          source: { type: 'string' },
          target: { type: 'string' },
          type: { enum: ['bind', 'tmpfs'] },
          readonly: { type: 'boolean' },
          options: { type: 'string' },
        },
        required: ['target'],
        additionalProperties: false,
      },
    },
  };

  validate(app: AppConfig, ctx: PlanContext): void {
    const iso = app.isolation ?? {};
    const rootfs = iso.rootfs;
    if (rootfs !== undefined) {
      if (typeof rootfs !== 'string' || !path.isAbsolute(rootfs) || path.posix.normalize(rootfs) === '/') {
        throw invalid(ctx, 'rootfs', 'rootfs requires an absolute path other than "/"', 'WARDEN_ERR_ISOLATION_ROOTFS');
      }
    }
    if (rootfs !== undefined && namespaceOn(app, 'mount') && namespaceOn(app, 'credential') && !namespaceOn(app, 'pid') && iso.automount?.procfs !== false) {
      // The kernel lets a user namespace mount proc only for a pid namespace it owns (EPERM otherwise).
      throw invalid(
        ctx,
        'automount/procfs',
        '"automount.procfs" needs "isolation.namespaces.pid" when "credential" is on; turn "pid" on or set "procfs" to false.',
        'WARDEN_ERR_ISOLATION_AUTOMOUNT',
      );
    }
    const mounts = iso.mounts;
    if (mounts === undefined) return;
    if (!Array.isArray(mounts)) throw invalid(ctx, 'mounts', 'The "mounts" value must be an array.', 'WARDEN_ERR_ISOLATION_MOUNTS');
    if (!namespaceOn(app, 'mount')) {
      throw invalid(ctx, 'mounts', '"mounts" is set but "isolation.namespaces.mount" is false or unset.', 'WARDEN_ERR_ISOLATION_MOUNTS');
    }
    mounts.forEach((raw: unknown, i: number) => {
      const m = raw as MountEntry;
      const where = `mounts/${i}`;
      const fail = (msg: string) => {
        throw invalid(ctx, where, msg, 'WARDEN_ERR_ISOLATION_MOUNTS');
      };
      if (typeof m !== 'object' || m === null) fail(`The "mounts" entry ${i} must be an object.`);
      if (typeof m.target !== 'string' || !path.isAbsolute(m.target)) fail(`The "target" of "mounts" entry ${i} must be an absolute path.`);
      const target = path.posix.normalize(m.target);
      if (target === '/') fail(`The "target" of "mounts" entry ${i} must not be "/".`);
      if (FORBIDDEN_TARGETS.some((f) => target === f || target.startsWith(`${f}/`))) {
        fail(`The "target" of "mounts" entry ${i} must not be inside /proc or /sys.`);
      }
      const type = m.type ?? 'bind';
      if (type !== 'bind' && type !== 'tmpfs') fail(`The "type" of "mounts" entry ${i} must be "bind" or "tmpfs".`);
      if (type === 'bind' && (typeof m.source !== 'string' || !path.isAbsolute(m.source))) {
        fail(`The "source" of "mounts" entry ${i} must be an absolute path on the host.`);
      }
      if (m.options !== undefined && (typeof m.options !== 'string' || m.options.includes('\0'))) {
        fail(`The "options" of "mounts" entry ${i} must be a string.`);
      }
    });
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder, ctx: PlanContext): void {
    const iso = app.isolation ?? {};
    const rootfs = typeof iso.rootfs === 'string' ? path.posix.normalize(iso.rootfs) : undefined;
    const mountNs = namespaceOn(app, 'mount');
    if (!mountNs) {
      if (rootfs) plan.addChildOp({ op: 'chroot', phase: PHASE.ROOT, root: rootfs });
      return;
    }
    const root = rootfs ?? '';
    const noexec = MS.NOSUID | MS.NODEV | MS.NOEXEC;
    if (!rootfs && namespaceOn(app, 'pid') && iso.automount?.procfs !== false) {
      // The host's /proc would list every host process (command lines; environments of same-uid ones) to an app in
      // its own pid namespace: a fresh procfs over it, in the app's private mount namespace, lists only the app's.
      plan.addChildOp({ op: 'mount', phase: PHASE.MOUNT_SYSTEM, root, target: '/proc', source: 'proc', fstype: 'proc', flags: noexec });
    }
    if (rootfs) {
      // pivot_root needs the new root to be a mount point; binding it onto itself makes it one.
      plan.addChildOp({ op: 'bind', phase: PHASE.MOUNT_ROOTFS, root: '', target: rootfs, source: rootfs, readonly: false });
      const auto = iso.automount ?? {};
      if (auto.procfs !== false) {
        plan.addChildOp({ op: 'mount', phase: PHASE.MOUNT_SYSTEM, root, target: '/proc', source: 'proc', fstype: 'proc', flags: noexec });
      }
      if (auto.tmpfs !== false) {
        plan.addChildOp({
          op: 'mount',
          phase: PHASE.MOUNT_SYSTEM,
          root,
          target: '/tmp',
          source: 'tmpfs',
          fstype: 'tmpfs',
          flags: noexec,
          data: 'size=1m,mode=1777',
        });
      }
      if (auto.language_deps !== false) {
        // The runtime's own files (for a `node` app: the node binary, its shared libraries and loader, Warden's
        // runtime modules), read-only at the same paths, so the interpreter runs inside a rootfs holding only the app.
        for (const dep of ctx.languageDeps ?? []) {
          plan.addChildOp({ op: 'bind', phase: PHASE.MOUNT_LANGUAGE_DEPS, root, target: dep, source: dep, readonly: true });
        }
      }
    }
    for (const m of (iso.mounts as MountEntry[] | undefined) ?? []) {
      const target = path.posix.normalize(m.target);
      if ((m.type ?? 'bind') === 'tmpfs') {
        plan.addChildOp({
          op: 'mount',
          phase: PHASE.MOUNT_CONFIG,
          root,
          target,
          source: m.source ?? 'tmpfs',
          fstype: 'tmpfs',
          flags: MS.NOSUID | MS.NODEV | (m.readonly ? MS.RDONLY : 0),
          data: m.options ?? '',
        });
      } else {
        plan.addChildOp({ op: 'bind', phase: PHASE.MOUNT_CONFIG, root, target, source: m.source as string, readonly: m.readonly === true });
      }
    }
    if (rootfs) plan.addChildOp({ op: 'pivot_root', phase: PHASE.ROOT, root: rootfs });
  }
}
