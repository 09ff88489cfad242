import { describeRoot, cleanup, hostNamespaces, runProbe, setupNative, startPrototype } from './helpers';

const ALL = ['cgroup', 'credential', 'pid', 'mount', 'network', 'uname', 'ipc'] as const;
const NS_FILE: Record<(typeof ALL)[number], string> = {
  cgroup: 'cgroup',
  credential: 'user',
  pid: 'pid',
  mount: 'mnt',
  network: 'net',
  uname: 'uts',
  ipc: 'ipc',
};

describeRoot('namespaces (requires root)', () => {
  let dir: string;
  let probe: string;
  let host: Record<string, string>;
  beforeAll(() => {
    ({ dir, probe } = setupNative());
    host = hostNamespaces(probe);
  });
  afterAll(() => cleanup(dir));

  it('gives the app all seven namespaces of its own when all are on', async () => {
    const namespaces = Object.fromEntries(ALL.map((k) => [k, true]));
    const proto = await startPrototype({ type: 'external', user: 'root', isolation: { namespaces } });
    try {
      const { report } = await runProbe(proto, probe, dir);
      for (const k of ALL) expect([k, report.ns[NS_FILE[k]]]).not.toEqual([k, host[NS_FILE[k]]]);
      expect(report.ns.time).toBe(host.time);
    } finally {
      await proto.close();
    }
  });

  it.each(ALL)('with only %s on, only that namespace differs', async (key) => {
    const user = key === 'credential' ? 'root' : 'nobody';
    const proto = await startPrototype({ type: 'external', user, isolation: { namespaces: { [key]: true } } });
    try {
      const { report } = await runProbe(proto, probe, dir);
      for (const k of ALL) {
        const same = report.ns[NS_FILE[k]] === host[NS_FILE[k]];
        expect([k, same]).toEqual([k, k !== key]);
      }
    } finally {
      await proto.close();
    }
  });
});
