import 'reflect-metadata';
import { join } from 'path';
import pino from 'pino';
import { container as root } from 'tsyringe';
import { TOKENS, WardenError } from '../src/contracts';
import { loadPlugins } from '../src/plugins/plugin-loader';
import { ConfigValidator } from '../src/config/config-validator';
import { planContextDefaults } from '../src/config/plan-context';

const fixture = (name: string) => join(__dirname, 'fixtures', name);

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

describe('plugin loader', () => {
  it('loads a plugin by path and calls register(container); its type is then accepted by the schema', async () => {
    const c = root.createChildContainer();
    const { log } = capture();
    const loaded = await loadPlugins(c, [{ module: fixture('launcher-plugin.js'), required: true }], log);
    expect(loaded).toHaveLength(1);
    expect(c.resolveAll(TOKENS.AppLauncher)).toHaveLength(1);
    const v = new ConfigValidator(c, planContextDefaults({ tmpdir: '/tmp' }));
    expect(() => v.validate({ applications: { a: { type: 'fixture', command: '/bin/true' } } })).not.toThrow();
    expect(() => v.validate({ applications: { a: { type: 'fixture' } } })).toThrow('Required parameter "command" is missing.');
  });

  it('a missing default plugin is a warning and loading continues', async () => {
    const c = root.createChildContainer();
    const { log, lines } = capture();
    const loaded = await loadPlugins(
      c,
      [
        { module: 'warden-plugin-does-not-exist', required: false },
        { module: fixture('launcher-plugin.js'), required: false },
      ],
      log,
    );
    expect(loaded.map((l) => l.module)).toEqual([fixture('launcher-plugin.js')]);
    expect(lines.some((l) => l.level === 40 && l.plugin === 'warden-plugin-does-not-exist')).toBe(true);
  });

  it('a plugin listed twice registers once; a failed default requested again with --plugin is an error', async () => {
    const c = root.createChildContainer();
    const { log } = capture();
    const twice = [fixture('launcher-plugin.js'), fixture('launcher-plugin.js')].map((module) => ({ module, required: true }));
    await loadPlugins(c, twice, log);
    expect(c.resolveAll(TOKENS.AppLauncher)).toHaveLength(1);
    const again = [
      { module: 'warden-plugin-does-not-exist', required: false },
      { module: 'warden-plugin-does-not-exist', required: true },
    ];
    await expect(loadPlugins(root.createChildContainer(), again, log)).rejects.toThrow(WardenError);
  });

  it.each([
    ['warden-plugin-does-not-exist', /Cannot load plugin "warden-plugin-does-not-exist": it is not installed/],
    [fixture('broken-plugin.js'), /fixture plugin refuses to register/],
    [fixture('no-register-plugin.js'), /does not export a register\(container\) function/],
  ])('a requested plugin that fails (%s) is a clear error', async (module, message) => {
    const { log } = capture();
    const p = loadPlugins(root.createChildContainer(), [{ module, required: true }], log);
    await expect(p).rejects.toThrow(WardenError);
    await expect(p).rejects.toThrow(message);
  });
});
