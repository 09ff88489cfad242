import { ChildOpError, PHASE, type ChildOp, type PlanContext } from '../src/contracts';
import { PlanBuilder } from '../src/isolation/plan-builder';

const ctx = { appName: 'a', credentials: { uid: 1, gid: 2, groups: [2] } } as unknown as PlanContext;

describe('spawn plan builder', () => {
  it('orders child ops and parent hooks by named step, keeping insertion order within a step', () => {
    const b = new PlanBuilder();
    b.addChildOp({ op: 'pivot_root', phase: PHASE.ROOT, root: '/r' });
    b.addChildOp({ op: 'mount', phase: PHASE.MOUNT_CONFIG, target: '/data', fstype: 'tmpfs' });
    b.addChildOp({ op: 'bind', phase: PHASE.MOUNT_ROOTFS, target: '/r', source: '/r' });
    b.addChildOp({ op: 'make_rprivate', phase: PHASE.MOUNT_PROPAGATION });
    b.addChildOp({ op: 'mount', phase: PHASE.MOUNT_SYSTEM, root: '/r', target: '/proc', source: 'proc', fstype: 'proc' });
    b.addChildOp({ op: 'mount', phase: PHASE.MOUNT_SYSTEM, root: '/r', target: '/tmp', source: 'tmpfs', fstype: 'tmpfs' });
    b.addChildOp({ op: 'bind', phase: PHASE.MOUNT_LANGUAGE_DEPS, root: '/r', target: '/usr/bin/node', source: '/usr/bin/node', readonly: true });
    b.addChildOp({ op: 'unshare', phase: PHASE.NAMESPACE_SETUP, flags: 0x80 });
    b.addParentHook({ name: 'cgroup', phase: PHASE.CGROUP, run: async () => undefined });
    b.addParentHook({ name: 'idmap', phase: PHASE.IDMAP, run: async () => undefined });
    const plan = b.finish(ctx);
    expect(plan.childOps.map((o: ChildOp) => `${o.op}@${o.phase}`)).toEqual([
      'unshare@namespace_setup',
      'make_rprivate@mount_propagation',
      'bind@mount_rootfs',
      'mount@mount_system',
      'mount@mount_system',
      'bind@mount_language_deps',
      'mount@mount_config',
      'pivot_root@root',
    ]);
    expect(plan.childOps.filter((o) => o.op === 'mount').map((o) => (o.op === 'mount' ? o.target : ''))).toEqual(['/proc', '/tmp', '/data']);
    expect(plan.parentHooks.map((h) => h.name)).toEqual(['idmap', 'cgroup']);
  });

  it('refuses, when a plugin adds it, an op outside the vocabulary or with bad arguments (ChildOpError, WARDEN_ERR_CHILD_OP)', () => {
    const b = new PlanBuilder();
    const err = (() => {
      try {
        b.addChildOp({ op: 'mount', phase: PHASE.MOUNT_SYSTEM } as unknown as ChildOp);
      } catch (e) {
        return e as ChildOpError;
      }
    })();
    expect(err).toBeInstanceOf(ChildOpError);
    expect([err?.code, err?.message]).toEqual(['WARDEN_ERR_CHILD_OP', 'child op "mount" is missing argument "target"']);
    expect(() => b.addChildOp({ op: 'reboot', phase: PHASE.HOST } as unknown as ChildOp)).toThrow(/unknown child op "reboot" \(known: make_rprivate, mount, /);
    expect(b.childOps).toEqual([]);
  });
});

describe('ChildOp type', () => {
  // Each of these fails to compile (type-checked tests) and is refused at run time (JavaScript plugins).
  const wrong: Array<[string, unknown]> = [
    // @ts-expect-error misspelt argument
    ['has no argument "targte"', { op: 'mount', phase: PHASE.MOUNT_SYSTEM, target: '/x', targte: '/x' } satisfies ChildOp],
    // @ts-expect-error an op that is not in CHILD_OPS
    ['unknown child op "reboot"', { op: 'reboot', phase: PHASE.HOST } satisfies ChildOp],
    // @ts-expect-error a parent hook's step
    ['not one of the child steps', { op: 'loopback_up', phase: PHASE.IDMAP } satisfies ChildOp],
    // @ts-expect-error a numeric offset instead of a named step
    ['not one of the child steps', { op: 'loopback_up', phase: 300 } satisfies ChildOp],
    // @ts-expect-error a required argument left out
    ['missing argument "hostname"', { op: 'sethostname', phase: PHASE.HOST } satisfies ChildOp],
  ];
  it.each(wrong)('refuses an op whose error says: %s', (message, op) => {
    expect(() => new PlanBuilder().addChildOp(op as ChildOp)).toThrow(message);
  });

  it("narrows on `op` to that op's arguments", () => {
    const op: ChildOp = { op: 'bind', phase: PHASE.MOUNT_CONFIG, target: '/t', source: '/s', readonly: true };
    expect(op.op === 'bind' ? op.readonly : undefined).toBe(true);
  });
});
