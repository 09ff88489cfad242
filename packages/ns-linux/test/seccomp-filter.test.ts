import { readFileSync } from 'fs';
import * as path from 'path';
import { ConfigValidationError, type IsolationConfig } from '@warden/core';
import { encodeProgram, RET } from '../src/internal/seccomp/bpf';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_ALLOWED, ESSENTIAL, PERSONALITY_VALUES, SOCKET_FAMILIES } from '../src/internal/seccomp/default-profile';
import { ARCHES, compileFilter, SeccompArch, SeccompPolicy } from '../src/internal/seccomp/filter-compiler';
import { AARCH64_SYSCALLS, X86_64_SYSCALLS } from '../src/internal/seccomp/syscall-table';
import { SeccompExtra, seccompPolicy } from '../src/internal/extras/seccomp.extra';
import { decodeProgram, runFilter } from './bpf-interpreter';
import { planContext, planFor, validationMessage } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fromHeaders, NEWER } = require('../scripts/syscall-table.js') as {
  fromHeaders(arch: string): Record<string, number>;
  NEWER: [string, number, string[]?][];
};

const ARCH_LIST: SeccompArch[] = ['x86_64', 'aarch64'];
const EPERM = RET.ERRNO | 1;
const ENOSYS = RET.ERRNO | 38;
const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_ARM = 0x40000028;
const DENIED_BY_DEFAULT = ['mount', 'unshare', 'kexec_load', 'bpf', 'ptrace', 'keyctl', 'add_key', 'perf_event_open'];

const policy = (p: Partial<SeccompPolicy> = {}): SeccompPolicy => ({ base: 'default', allow: [], deny: [], action: 'errno', ...p });

function verdict(prog: ReturnType<typeof compileFilter>, arch: SeccompArch, name: string, args: bigint[] = []): number {
  const nr = ARCHES[arch].table[name];
  if (nr === undefined) throw new Error(`${name} is not a call of ${arch}`);
  return runFilter(prog, { nr, arch: ARCHES[arch].audit, args }).ret;
}

const NAMES = Object.fromEntries(ARCH_LIST.map((a) => [a, new Map(Object.entries(ARCHES[a].table).map(([n, nr]) => [nr, n]))])) as Record<
  SeccompArch,
  Map<number, string>
>;

/** What the policy means, written from its description: the oracle every compiled program is checked against. */
function expected(p: SeccompPolicy, arch: SeccompArch, nr: number, args: bigint[]): number {
  const deny = p.action === 'kill' ? RET.KILL_PROCESS : p.action === 'log' ? RET.LOG : EPERM;
  if (arch === 'x86_64' && nr >= 0x40000000) return RET.KILL_PROCESS; // x32
  const name = NAMES[arch].get(nr);
  const low = Number((args[0] ?? 0n) & 0xffffffffn);
  if (name !== undefined && p.deny.includes(name)) return deny;
  if (name !== undefined && p.allow.includes(name)) return RET.ALLOW;
  if (p.base === 'unconfined') return RET.ALLOW;
  if (name === undefined) return deny;
  if (DEFAULT_ALLOWED.includes(name)) return RET.ALLOW;
  if (name === 'clone') return low & CLONE_NAMESPACE_FLAGS ? deny : RET.ALLOW;
  if (name === 'personality') return PERSONALITY_VALUES.includes(low) ? RET.ALLOW : deny;
  if (name === 'socket') return SOCKET_FAMILIES.includes(low) ? RET.ALLOW : deny;
  if (name === 'clone3') return ENOSYS;
  return deny;
}

/** Every syscall number of the table and past it, with the argument values the checks distinguish. */
function checkAll(p: SeccompPolicy, arch: SeccompArch): { maxSteps: number } {
  const prog = compileFilter(p, arch);
  const argSets: bigint[][] = [[], [0x10000000n], [0x11n], [8n], [0x20008n], [0xffffffffn], [1n], [2n], [10n], [16n], [17n], [40n], [0x1_0000_0002n]];
  let maxSteps = 0;
  const wrong: string[] = [];
  const numbers = [...Array(600).keys(), 0x3fffffff, 0x40000000 + 39, 0xfffffffe];
  for (const nr of numbers) {
    for (const args of argSets) {
      const { ret, steps } = runFilter(prog, { nr, arch: ARCHES[arch].audit, args });
      maxSteps = Math.max(maxSteps, steps);
      const want = expected(p, arch, nr, args);
      if (ret !== want) wrong.push(`${arch} nr ${nr} arg0 ${args[0]}: 0x${ret.toString(16)}, expected 0x${want.toString(16)}`);
    }
  }
  expect(wrong).toEqual([]);
  return { maxSteps };
}

describe('seccomp filter compiler', () => {
  it.each(ARCH_LIST)(
    'allows the default profile on %s and refuses mount, unshare, kexec_load, bpf, ptrace, keyctl, add_key, perf_event_open with EPERM',
    (arch) => {
      const prog = compileFilter(policy(), arch);
      for (const name of DEFAULT_ALLOWED.filter((n) => n in ARCHES[arch].table)) expect([name, verdict(prog, arch, name)]).toEqual([name, RET.ALLOW]);
      for (const name of DENIED_BY_DEFAULT) expect([name, verdict(prog, arch, name)]).toEqual([name, EPERM]);
    },
  );

  it.each(ARCH_LIST)('checks arguments on %s: clone without namespace flags, four socket families, five personalities; clone3 gets ENOSYS', (arch) => {
    const prog = compileFilter(policy(), arch);
    const threadFlags = 0x3d0f00n; // what glibc's pthread_create passes
    expect(verdict(prog, arch, 'clone', [threadFlags])).toBe(RET.ALLOW);
    expect(verdict(prog, arch, 'clone', [threadFlags | 0x10000000n])).toBe(EPERM); // CLONE_NEWUSER
    expect(verdict(prog, arch, 'clone', [0x20000n | 0x11n])).toBe(EPERM); // CLONE_NEWNS | SIGCHLD
    expect(verdict(prog, arch, 'socket', [2n])).toBe(RET.ALLOW);
    expect(verdict(prog, arch, 'socket', [17n])).toBe(EPERM); // AF_PACKET
    expect(verdict(prog, arch, 'socket', [40n])).toBe(EPERM); // AF_VSOCK
    expect(verdict(prog, arch, 'personality', [0xffffffffn])).toBe(RET.ALLOW);
    expect(verdict(prog, arch, 'personality', [0x0400000n])).toBe(EPERM); // READ_IMPLIES_EXEC
    expect(verdict(prog, arch, 'clone3')).toBe(ENOSYS);
  });

  it('kills a call of a foreign architecture (i386, arm) and an x32 call on x86_64, whatever the action', () => {
    for (const action of ['errno', 'log', 'kill'] as const) {
      const x86 = compileFilter(policy({ action }), 'x86_64');
      expect(runFilter(x86, { nr: 20, arch: AUDIT_ARCH_I386 }).ret).toBe(RET.KILL_PROCESS);
      expect(runFilter(x86, { nr: 0x40000000 | X86_64_SYSCALLS.getpid, arch: ARCHES.x86_64.audit }).ret).toBe(RET.KILL_PROCESS);
      expect(runFilter(x86, { nr: X86_64_SYSCALLS.getpid, arch: ARCHES.aarch64.audit }).ret).toBe(RET.KILL_PROCESS);
      const arm = compileFilter(policy({ action }), 'aarch64');
      expect(runFilter(arm, { nr: 20, arch: AUDIT_ARCH_ARM }).ret).toBe(RET.KILL_PROCESS);
      expect(runFilter(arm, { nr: AARCH64_SYSCALLS.getpid, arch: ARCHES.x86_64.audit }).ret).toBe(RET.KILL_PROCESS);
    }
  });

  it('uses the number of each architecture: openat is 257 on x86_64 and 56 on aarch64, and 56 is clone on x86_64', () => {
    const x86 = compileFilter(policy({ deny: ['openat'] }), 'x86_64');
    const arm = compileFilter(policy({ deny: ['openat'] }), 'aarch64');
    expect(runFilter(x86, { nr: 257, arch: ARCHES.x86_64.audit }).ret).toBe(EPERM);
    expect(runFilter(arm, { nr: 56, arch: ARCHES.aarch64.audit }).ret).toBe(EPERM);
    expect(runFilter(x86, { nr: 56, arch: ARCHES.x86_64.audit, args: [0x11n] }).ret).toBe(RET.ALLOW);
  });

  it.each([
    ['default profile', policy()],
    ['allow re-enables and deny removes', policy({ allow: ['ptrace', 'mount', 'clone3', 'socket'], deny: ['getpid', 'clone', 'uname'] })],
    ['kill action', policy({ action: 'kill', allow: ['bpf'] })],
    ['log action', policy({ action: 'log' })],
    ['unconfined base with a deny list', policy({ base: 'unconfined', deny: ['mount', 'ptrace', 'getpid'] })],
  ])('gives every syscall number the verdict the policy describes (%s), on both architectures', (_what, p) => {
    for (const arch of ARCH_LIST) {
      const { maxSteps } = checkAll(p, arch);
      expect(maxSteps).toBeLessThanOrEqual(24);
    }
  });

  it('reaches a subtree farther than 255 instructions through JA, and still decides every number right', () => {
    // Denying every other allowed call, in number order, splits the table into hundreds of runs.
    const byNumber = DEFAULT_ALLOWED.filter((n) => n in X86_64_SYSCALLS).sort((a, b) => X86_64_SYSCALLS[a] - X86_64_SYSCALLS[b]);
    const p = policy({ deny: byNumber.filter((n, i) => i % 2 === 0 && !ESSENTIAL.includes(n)) });
    const prog = compileFilter(p, 'x86_64');
    expect(prog.length).toBeGreaterThan(400);
    expect(prog.some((i) => i.code === 0x05)).toBe(true);
    checkAll(p, 'x86_64');
  });

  it('encodes the program as 16 hex digits per instruction for the helper, byte-order independent', () => {
    const prog = compileFilter(policy(), 'x86_64');
    const text = encodeProgram(prog);
    expect(text).toHaveLength(prog.length * 16);
    expect(text.slice(0, 32)).toBe('0020000000000004' + '00150100c000003e'); // ld arch; jeq AUDIT_ARCH_X86_64
    expect(decodeProgram(text)).toEqual(prog);
  });
});

describe("the default profile against Docker's", () => {
  it('allows what Docker allows without capabilities, except ptrace, process_vm_readv/writev and modify_ldt, plus file_getattr/file_setattr', () => {
    const docker = readFileSync(path.join(__dirname, 'fixtures/docker-default-allowed.txt'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    const ours = [...DEFAULT_ALLOWED, 'clone', 'clone3', 'personality', 'socket'];
    expect(docker.filter((n) => !ours.includes(n)).sort()).toEqual(['modify_ldt', 'process_vm_readv', 'process_vm_writev', 'ptrace']);
    expect(ours.filter((n) => !docker.includes(n)).sort()).toEqual(['file_getattr', 'file_setattr']);
  });
});

describe('seccomp syscall table', () => {
  it.each(['x86_64', 'aarch64'] as const)('matches the kernel headers installed on this machine for %s, plus the newer calls', (arch) => {
    const table = arch === 'x86_64' ? X86_64_SYSCALLS : AARCH64_SYSCALLS;
    const headers = fromHeaders(arch);
    expect(Object.keys(headers).length).toBeGreaterThan(250);
    for (const [name, nr] of Object.entries(headers)) expect([name, table[name]]).toEqual([name, nr]);
    for (const [name, nr, arches] of NEWER) if (!arches || arches.includes(arch)) expect([name, table[name]]).toEqual([name, nr]);
    // Every number appears once.
    expect(new Set(Object.values(table)).size).toBe(Object.keys(table).length);
  });
});

describe('isolation.seccomp configuration', () => {
  it('refuses an unknown system call naming it and its JSON path', () => {
    const extra = new SeccompExtra();
    const app = { type: 'external', isolation: { seccomp: { allow: ['ptrace', 'frobnicate'] } } };
    let err: unknown;
    try {
      extra.validate(app, planContext(app));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    expect((err as ConfigValidationError).message).toBe('Unknown system call "frobnicate" in "seccomp.allow".');
    expect((err as ConfigValidationError).path).toBe('/applications/probe/isolation/seccomp/allow/1');
    expect((err as ConfigValidationError).code).toBe('WARDEN_ERR_ISOLATION_SECCOMP');
    expect(validationMessage({ seccomp: { deny: ['mount', 'sys_frob'] } })).toBe('Unknown system call "sys_frob" in "seccomp.deny".');
  });

  it('refuses conflicting, essential and meaningless entries, unknown profiles and actions', () => {
    expect(validationMessage({ seccomp: 'strict' })).toBe('Unknown seccomp profile "strict" (known: "default", "unconfined").');
    expect(validationMessage({ seccomp: 42 })).toBe('The "seccomp" value must be either a string or an object.');
    expect(validationMessage({ seccomp: { action: 'trap' } })).toBe('The "action" value must be "errno", "kill" or "log", but not "trap".');
    expect(validationMessage({ seccomp: { profile: 'default' } })).toBe('Unknown parameter "profile".');
    expect(validationMessage({ seccomp: { allow: ['mount'], deny: ['mount'] } })).toBe(
      'The system call "mount" is both in "seccomp.allow" and in "seccomp.deny".',
    );
    expect(validationMessage({ seccomp: { deny: ['execve'] } })).toBe('The system call "execve" cannot be denied: no program can start or end without it.');
    expect(validationMessage({ seccomp: { base: 'unconfined', allow: ['mount'] } })).toBe(
      'With the "unconfined" base every system call is allowed: list only "deny".',
    );
    expect(validationMessage({ seccomp: 'default', new_privs: true })).toBe(
      '"seccomp" installs its filter with no_new_privs: remove "new_privs": true or set "seccomp": "unconfined".',
    );
    expect(validationMessage({ seccomp: 'unconfined', new_privs: true })).toBe('valid');
    expect(validationMessage({ seccomp: { base: 'default', allow: ['open'], deny: ['ptrace'], action: 'kill' } })).toBe('valid');
  });

  it('adds no filter when seccomp is absent or unconfined (Unit configs run as before), one op otherwise', () => {
    const ops = (isolation: IsolationConfig) => planFor({ type: 'external', isolation }).plan.childOps.filter((o) => o.op === 'seccomp');
    expect(ops({})).toEqual([]);
    expect(ops({ seccomp: 'unconfined' })).toEqual([]);
    expect(ops({ seccomp: { base: 'unconfined' } })).toEqual([]);
    expect(ops({ seccomp: 'default' })).toHaveLength(1);
    expect(ops({ seccomp: { base: 'unconfined', deny: ['ptrace'] } })).toHaveLength(1);
    expect(seccompPolicy({ allow: ['ptrace'] })).toEqual({ base: 'default', allow: ['ptrace'], deny: [], action: 'errno' });
  });
});
