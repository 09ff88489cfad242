import { AppLauncher, ConfigValidationError, ConfigValidator, planContextDefaults, TOKENS } from '@warden/core';
import { pluginContainer } from './helpers';

const external: AppLauncher = {
  types: ['external'],
  schema: { properties: { executable: { type: 'string' } }, required: ['executable'] },
  launch: () => ({ executable: '/bin/true', argv: ['true'], env: {} }),
};

function validator() {
  const c = pluginContainer();
  c.register(TOKENS.AppLauncher, { useValue: external });
  return new ConfigValidator(c, planContextDefaults({ user: 'root', group: 'root' }));
}

const app = (isolation: unknown) => ({ applications: { a: { type: 'external', executable: '/bin/true', user: 'root', isolation } } });

describe("isolation schema fragments under core's strict ajv", () => {
  it('compile into the config schema and accept a full isolation object', () => {
    const v = validator();
    const map = [{ container: 0, host: 1000, size: 1000 }];
    expect(() =>
      v.validate(
        app({
          namespaces: { cgroup: true, credential: true, pid: true, mount: true, network: true, uname: true, ipc: true },
          uidmap: map,
          gidmap: map,
          rootfs: '/srv/root',
          automount: { procfs: true, tmpfs: false, language_deps: false },
          mounts: [
            { source: '/data', target: '/data', readonly: true },
            { type: 'tmpfs', target: '/run', options: 'size=1m' },
          ],
          new_privs: false,
          capabilities: ['net_bind_service'],
          rlimits: { nofile: 1024, core: { soft: 0, hard: 0 }, as: 'unlimited' },
          cgroup: { path: 'apps/a', memory_max: '64M', pids_max: 20, cpu_max: '50000 100000' },
          hostname: 'a',
          seccomp: { base: 'default', allow: ['ptrace'], deny: ['mount'], action: 'kill' },
        }),
      ),
    ).not.toThrow();
  });

  it.each([
    [{ namespaces: { pid: 'yes' } }],
    [{ namespaces: { bogus: true } }],
    [{ bogus: 1 }],
    [{ uidmap: [{ container: 0, host: 0 }] }],
    [{ rlimits: { bogus: 1 } }],
    [{ cgroup: {} }],
    [{ mounts: [{ source: '/a' }] }],
    [{ seccomp: 'strict' }],
    [{ seccomp: { allow: 'ptrace' } }],
    [{ seccomp: { allow: ['no such call'] } }],
    [{ seccomp: { action: 'trap' } }],
  ])('rejects %j with a ConfigValidationError', (isolation) => {
    expect(() => validator().validate(app(isolation))).toThrow(ConfigValidationError);
  });

  it('refuses a seccomp list naming an unknown system call with the name and the JSON path, as Unit-style detail', () => {
    let err: ConfigValidationError | undefined;
    try {
      validator().validate(app({ seccomp: { deny: ['mount', 'frobnicate'] } }));
    } catch (e) {
      err = e as ConfigValidationError;
    }
    expect(err?.message).toBe('Unknown system call "frobnicate" in "seccomp.deny".');
    expect(err?.path).toBe('/applications/a/isolation/seccomp/deny/1');
  });
});
