import { WardenError } from './errors';

/**
 * The steps of building an application's sandbox, in the order they run. Parent hooks use the first two (wardend,
 * on the host, between the clone and the release); child ops the rest (the spawn helper, inside the namespaces).
 * Within one step, ops keep the order they were added in. Providers name a step, never another provider.
 */
export const PHASE = {
  /** Parent: uid/gid maps (before anything that needs privileges in the new user namespace). */
  IDMAP: 'idmap',
  /** Parent: cgroup placement. */
  CGROUP: 'cgroup',
  /** Child: namespaces created after the release (`unshare`: cgroup, time) and their files (`timens_offsets`). */
  NAMESPACE_SETUP: 'namespace_setup',
  /** Child: every mount made private, so nothing propagates between the app and the host. */
  MOUNT_PROPAGATION: 'mount_propagation',
  /** Child: the rootfs bound onto itself (pivot_root needs a mount point). */
  MOUNT_ROOTFS: 'mount_rootfs',
  /** Child: the system filesystems: a fresh /proc, /tmp (`automount`). */
  MOUNT_SYSTEM: 'mount_system',
  /** Child: the language runtime's files, read-only (`automount.language_deps`). */
  MOUNT_LANGUAGE_DEPS: 'mount_language_deps',
  /** Child: the mounts the config lists (`isolation.mounts`), over everything above. */
  MOUNT_CONFIG: 'mount_config',
  /** Child: pivot_root / chroot into the rootfs. */
  ROOT: 'root',
  /** Child: hostname, loopback. */
  HOST: 'host',
  /** Per app process: rlimits, capabilities, no_new_privs, seccomp (then setgid/setuid, in the helper's order). */
  DROP_PRIVS: 'drop_privs',
} as const;

/** One step of {@link PHASE}. */
export type Phase = (typeof PHASE)[keyof typeof PHASE];
/** The steps of parent hooks. */
export type ParentPhase = typeof PHASE.IDMAP | typeof PHASE.CGROUP;
/** The steps of child ops. */
export type ChildPhase = Exclude<Phase, ParentPhase>;

/** Rank of each step: the order of {@link PHASE}'s keys. */
export const PHASE_ORDER: Readonly<Record<Phase, number>> = Object.fromEntries(Object.values(PHASE).map((p, i) => [p, i])) as Record<Phase, number>;

/**
 * How an argument is written and sent: `string` as is (no NUL byte); `uint` a non-negative integer (number or
 * bigint, sent in decimal); `limit` a `uint` or `"inf"`; `bool` true/false (sent as 1/0).
 */
export type ArgKind = 'string' | 'uint' | 'limit' | 'bool';

interface ArgDef {
  readonly name: string;
  readonly kind: ArgKind;
  /** Absent = required. Present = the value sent when the op leaves the argument out. */
  readonly default?: string | number | boolean;
  readonly doc: string;
}

interface OpDef {
  /** `prototype`: once, in the prototype, in phase order. `process`: in every app process, in the helper's order. */
  readonly runs: 'prototype' | 'process';
  readonly doc: string;
  /** In the order the helper takes them (the wire record is `[op, arg...]`). */
  readonly args: readonly ArgDef[];
}

const ROOT_ARG = {
  name: 'root',
  kind: 'string',
  default: '',
  doc: 'rootfs the target is resolved in (openat2 RESOLVE_IN_ROOT, missing parts created); "" = host path',
} as const;

/**
 * The spawn helper's fixed vocabulary, written once: the `ChildOp` type, the checks of {@link checkChildOp}, the
 * encoder of @warden/ns-linux, its C header (`native/child-ops.h`, generated, checked by a test) and its README
 * table all come from this table.
 */
export const CHILD_OPS = {
  make_rprivate: { runs: 'prototype', doc: 'mount(NULL, "/", MS_REC|MS_PRIVATE): no mount events cross to or from the host', args: [] },
  mount: {
    runs: 'prototype',
    doc: 'mount(2) a filesystem at `target`',
    args: [
      ROOT_ARG,
      { name: 'target', kind: 'string', doc: 'mount point' },
      { name: 'source', kind: 'string', default: '', doc: 'source (device, "proc", "tmpfs", ...)' },
      { name: 'fstype', kind: 'string', default: '', doc: 'filesystem type' },
      { name: 'flags', kind: 'uint', default: 0, doc: 'MS_* flags' },
      { name: 'data', kind: 'string', default: '', doc: 'mount data, e.g. "size=1m,mode=1777"' },
    ],
  },
  bind: {
    runs: 'prototype',
    doc: 'bind-mount (recursive) host path `source` at `target`; read-only by a second remount that keeps the locked flags',
    args: [
      ROOT_ARG,
      { name: 'target', kind: 'string', doc: 'mount point (a file when `source` is one)' },
      { name: 'source', kind: 'string', doc: 'host path' },
      { name: 'readonly', kind: 'bool', default: false, doc: 'remount read-only' },
    ],
  },
  mkdir: { runs: 'prototype', doc: 'create a directory and its parents', args: [ROOT_ARG, { name: 'path', kind: 'string', doc: 'directory' }] },
  pivot_root: {
    runs: 'prototype',
    doc: 'pivot_root(".", ".") in `root`, then the old root detached',
    args: [{ name: 'root', kind: 'string', doc: 'the new root (a mount point)' }],
  },
  chroot: { runs: 'prototype', doc: 'chroot(2), without a mount namespace (as Unit)', args: [{ name: 'root', kind: 'string', doc: 'the new root' }] },
  sethostname: { runs: 'prototype', doc: 'sethostname(2)', args: [{ name: 'hostname', kind: 'string', doc: 'host name' }] },
  loopback_up: { runs: 'prototype', doc: 'SIOCSIFFLAGS IFF_UP on "lo" (a new network namespace starts with it down)', args: [] },
  unshare: {
    runs: 'prototype',
    doc: 'unshare(2): a namespace created after the release, whose first members are the app processes (CLONE_NEWCGROUP rooted at the cgroup wardend placed the prototype in; CLONE_NEWTIME, whose offsets can be written until a process enters it)',
    args: [{ name: 'flags', kind: 'uint', doc: 'CLONE_NEW* flags' }],
  },
  write_file: {
    runs: 'prototype',
    doc: 'open an existing file and write `data` with one write(2), as /proc files such as timens_offsets require',
    args: [
      { name: 'path', kind: 'string', doc: 'file' },
      { name: 'data', kind: 'string', doc: 'contents' },
    ],
  },
  rlimit: {
    runs: 'process',
    doc: 'setrlimit(2), before privileges are dropped',
    args: [
      { name: 'resource', kind: 'uint', doc: 'RLIMIT_* number' },
      { name: 'soft', kind: 'limit', doc: 'soft limit ("inf" = unlimited)' },
      { name: 'hard', kind: 'limit', doc: 'hard limit ("inf" = unlimited)' },
    ],
  },
  no_new_privs: { runs: 'process', doc: 'prctl(PR_SET_NO_NEW_PRIVS)', args: [] },
  caps: {
    runs: 'process',
    doc: 'keep only these capabilities (bounding, permitted, effective, inheritable; ambient for a non-root uid)',
    args: [{ name: 'keep', kind: 'uint', doc: 'capability bit mask' }],
  },
  seccomp: {
    runs: 'process',
    doc: 'install a seccomp filter, the last step before execve (with no_new_privs)',
    args: [{ name: 'filter', kind: 'string', doc: 'classic BPF program, 16 hex digits per instruction (code, jt, jf, k)' }],
  },
} as const satisfies Record<string, OpDef>;

/** The name of a child op. */
export type ChildOpName = keyof typeof CHILD_OPS;

type KindValue = { string: string; uint: number | bigint; limit: number | bigint | 'inf'; bool: boolean };
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ArgsOf<A extends readonly ArgDef[]> = Simplify<
  { [E in A[number] as E extends { default: unknown } ? never : E['name']]: KindValue[E['kind']] } & {
    [E in A[number] as E extends { default: unknown } ? E['name'] : never]?: KindValue[E['kind']];
  }
>;

/**
 * An operation the spawn helper performs between clone and exec: one of {@link CHILD_OPS}, `op` selecting it and
 * the other fields its arguments (a discriminated union: `{op: 'mount', phase, target, ...}`). Ops run in
 * {@link PHASE} order.
 */
export type ChildOp = {
  [K in ChildOpName]: Simplify<{ op: K; phase: ChildPhase } & ArgsOf<(typeof CHILD_OPS)[K]['args']>>;
}[ChildOpName];

/** A child op that is not in the vocabulary or has bad arguments (a plugin's programming error). */
export class ChildOpError extends WardenError {
  constructor(message: string) {
    super('WARDEN_ERR_CHILD_OP', message);
    this.name = 'ChildOpError';
  }
}

function argString(opName: string, arg: ArgDef, v: unknown): string {
  const bad = (what: string) => new ChildOpError(`child op "${opName}" argument "${arg.name}" ${what}`);
  if (v === undefined) {
    if (arg.default === undefined) throw new ChildOpError(`child op "${opName}" is missing argument "${arg.name}"`);
    v = arg.default;
  }
  switch (arg.kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw bad('must be a boolean');
      return v ? '1' : '0';
    case 'limit':
    case 'uint':
      if (arg.kind === 'limit' && v === 'inf') return v;
      if (typeof v === 'bigint' && v >= 0n) return v.toString();
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
      throw bad(`must be a non-negative integer${arg.kind === 'limit' ? ' or "inf"' : ''}`);
    case 'string':
      if (typeof v !== 'string') throw bad('must be a string');
      if (v.includes('\0')) throw bad('contains a NUL byte');
      return v;
  }
}

/**
 * Checks a child op against the vocabulary (plugins written in JavaScript are not type-checked) and returns its wire
 * record `[op, arg...]`, arguments in the table's order with defaults filled in. Throws {@link ChildOpError}.
 */
export function encodeChildOp(op: ChildOp): string[] {
  const raw = op as unknown as Record<string, unknown>;
  const name = raw.op;
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(CHILD_OPS, name)) {
    throw new ChildOpError(`unknown child op ${JSON.stringify(name)} (known: ${Object.keys(CHILD_OPS).join(', ')})`);
  }
  if (!Object.prototype.hasOwnProperty.call(PHASE_ORDER, raw.phase as string) || raw.phase === PHASE.IDMAP || raw.phase === PHASE.CGROUP) {
    throw new ChildOpError(`child op "${name}" has phase ${JSON.stringify(raw.phase)}, not one of the child steps of PHASE`);
  }
  const def: OpDef = CHILD_OPS[name as ChildOpName];
  for (const key of Object.keys(raw)) {
    if (key !== 'op' && key !== 'phase' && !def.args.some((a) => a.name === key)) {
      throw new ChildOpError(`child op "${name}" has no argument "${key}"`);
    }
  }
  return [name, ...def.args.map((a) => argString(name, a, raw[a.name]))];
}
