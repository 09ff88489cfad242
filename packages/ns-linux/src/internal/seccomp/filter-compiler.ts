import { BPF, BPF_MAXINSNS, BpfInsn, insn, MAX_COND_JUMP, RET, SECCOMP_DATA } from './bpf';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_ALLOWED, PERSONALITY_VALUES, SOCKET_FAMILIES } from './default-profile';
import { AARCH64_SYSCALLS, X86_64_SYSCALLS } from './syscall-table';

/** What a call the profile does not allow gets: EPERM, the death of the process (SIGSYS), or a log line and success. */
export type SeccompAction = 'errno' | 'kill' | 'log';

/** A resolved `isolation.seccomp`: the base profile, what the app adds and removes, and the action for refusals. */
export interface SeccompPolicy {
  base: 'default' | 'unconfined';
  allow: readonly string[];
  deny: readonly string[];
  action: SeccompAction;
}

/** The architectures Warden generates filters for. */
export type SeccompArch = 'x86_64' | 'aarch64';

interface ArchInfo {
  /** AUDIT_ARCH_* value seccomp reports in seccomp_data.arch. */
  audit: number;
  table: Readonly<Record<string, number>>;
  /** x86_64 also accepts x32 calls: same AUDIT_ARCH, number | __X32_SYSCALL_BIT. */
  x32Bit?: number;
}

/** Per architecture: its AUDIT_ARCH value, its syscall table, and the x32 bit where there is one. */
export const ARCHES: Readonly<Record<SeccompArch, ArchInfo>> = {
  x86_64: { audit: 0xc000003e, table: X86_64_SYSCALLS, x32Bit: 0x40000000 },
  aarch64: { audit: 0xc00000b7, table: AARCH64_SYSCALLS },
};

/** The architecture of this machine, or undefined when Warden has no syscall table for it. */
export function nativeArch(arch: string = process.arch): SeccompArch | undefined {
  return arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : undefined;
}

/** Whether `name` is a system call of any supported architecture (config validation is the same on every host). */
export function isKnownSyscall(name: string): boolean {
  return Object.values(ARCHES).some((a) => Object.prototype.hasOwnProperty.call(a.table, name));
}

const ENOSYS = 38;
const EPERM = 1;

/** What happens to one syscall number: a plain return, or one of the argument checks of the default profile. */
type Verdict = 'allow' | 'deny' | 'enosys' | 'clone' | 'personality' | 'socket';

function denyValue(action: SeccompAction): number {
  if (action === 'kill') return RET.KILL_PROCESS;
  if (action === 'log') return RET.LOG;
  return RET.ERRNO | EPERM;
}

/** The verdict of every syscall number the policy mentions; every other number gets `fallback`. */
function verdicts(policy: SeccompPolicy, table: Readonly<Record<string, number>>): { byNr: Map<number, Verdict>; fallback: Verdict } {
  const byNr = new Map<number, Verdict>();
  const set = (name: string, v: Verdict) => {
    const nr = table[name];
    if (nr !== undefined) byNr.set(nr, v);
  };
  const fallback: Verdict = policy.base === 'default' ? 'deny' : 'allow';
  if (policy.base === 'default') {
    for (const name of DEFAULT_ALLOWED) set(name, 'allow');
    set('clone', 'clone');
    set('personality', 'personality');
    set('socket', 'socket');
    // clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes libc and Go fall back to clone.
    set('clone3', 'enosys');
  }
  for (const name of policy.allow) set(name, 'allow');
  for (const name of policy.deny) set(name, 'deny');
  return { byNr, fallback };
}

/** Runs of consecutive numbers with one verdict, covering 0 .. 2^32-1. */
function intervals(byNr: Map<number, Verdict>, fallback: Verdict): { start: number; verdict: Verdict }[] {
  const out: { start: number; verdict: Verdict }[] = [];
  const push = (start: number, verdict: Verdict) => {
    const last = out[out.length - 1];
    if (last?.verdict !== verdict || verdict === 'clone' || verdict === 'personality' || verdict === 'socket') {
      out.push({ start, verdict });
    }
  };
  const numbers = [...byNr.keys()].sort((a, b) => a - b);
  let next = 0;
  for (const nr of numbers) {
    if (nr > next) push(next, fallback);
    push(nr, byNr.get(nr) as Verdict);
    next = nr + 1;
  }
  push(next, fallback);
  return out;
}

/** `ld arg0 (low word); jeq v0 .. jeq vn → allow; else deny`. */
function oneOf(values: readonly number[], deny: number): BpfInsn[] {
  const n = values.length;
  return [insn(BPF.LD_ABS, SECCOMP_DATA.argLow(0)), ...values.map((v, i) => insn(BPF.JEQ, v, n - i, 0)), insn(BPF.RET, deny), insn(BPF.RET, RET.ALLOW)];
}

/**
 * The code of one verdict. Argument checks look at the low 32 bits only: clone(2) uses only the low 32 bits of its
 * flags, and personality(2) and socket(2) take an int, so the kernel ignores the high bits of all three.
 */
function leaf(v: Verdict, deny: number): BpfInsn[] {
  switch (v) {
    case 'allow':
      return [insn(BPF.RET, RET.ALLOW)];
    case 'deny':
      return [insn(BPF.RET, deny)];
    case 'enosys':
      return [insn(BPF.RET, RET.ERRNO | ENOSYS)];
    case 'clone':
      return [insn(BPF.LD_ABS, SECCOMP_DATA.argLow(0)), insn(BPF.JSET, CLONE_NAMESPACE_FLAGS, 1, 0), insn(BPF.RET, RET.ALLOW), insn(BPF.RET, deny)];
    case 'personality':
      return oneOf(PERSONALITY_VALUES, deny);
    case 'socket':
      return oneOf(SOCKET_FAMILIES, deny);
  }
}

/**
 * A binary search over the interval starts (A holds the syscall number): about log2(intervals) comparisons per
 * call instead of one per listed call. `jge start(mid)` goes right; a right subtree farther than a conditional jump
 * reaches is entered through a JA.
 */
function tree(iv: { start: number; verdict: Verdict }[], deny: number): BpfInsn[] {
  if (iv.length === 1) return leaf(iv[0].verdict, deny);
  const mid = iv.length >> 1;
  const left = tree(iv.slice(0, mid), deny);
  const right = tree(iv.slice(mid), deny);
  if (left.length <= MAX_COND_JUMP) return [insn(BPF.JGE, iv[mid].start, left.length, 0), ...left, ...right];
  return [insn(BPF.JGE, iv[mid].start, 0, 1), insn(BPF.JA, left.length), ...left, ...right];
}

/**
 * Compiles a policy into a seccomp program for `arch`. Layout:
 * 1. load seccomp_data.arch; any other architecture (i386 via int 0x80, arm32 compat) → kill the process;
 * 2. load the number; on x86_64 a number with the x32 bit (the x32 ABI shares AUDIT_ARCH_X86_64) → kill;
 * 3. binary search to the verdict of that number.
 * Foreign-ABI calls are killed whatever `action` says: their numbers mean other calls, so a profile written for
 * the native table would be wrong for them, and no Go or Node server makes them.
 */
export function compileFilter(policy: SeccompPolicy, arch: SeccompArch): BpfInsn[] {
  const info = ARCHES[arch];
  const { byNr, fallback } = verdicts(policy, info.table);
  const prog: BpfInsn[] = [
    insn(BPF.LD_ABS, SECCOMP_DATA.ARCH),
    insn(BPF.JEQ, info.audit, 1, 0),
    insn(BPF.RET, RET.KILL_PROCESS),
    insn(BPF.LD_ABS, SECCOMP_DATA.NR),
  ];
  if (info.x32Bit !== undefined) prog.push(insn(BPF.JGE, info.x32Bit, 0, 1), insn(BPF.RET, RET.KILL_PROCESS));
  prog.push(...tree(intervals(byNr, fallback), denyValue(policy.action)));
  if (prog.length > BPF_MAXINSNS) throw new Error(`seccomp filter of ${prog.length} instructions exceeds ${BPF_MAXINSNS}`);
  return prog;
}
