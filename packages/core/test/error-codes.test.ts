import 'reflect-metadata';
import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';
import { container as rootContainer } from 'tsyringe';
import { ConfigValidationError, isWardenError, TOKENS, WardenError } from '../src/contracts';
import type { AppLauncher } from '../src/contracts';
import { ConfigValidator } from '../src/config/config-validator';
import { planContextDefaults } from '../src/config/plan-context';
import { applyFailure } from '../src/control/control-error';

const PACKAGES = join(__dirname, '..', '..');
/** A code is `WARDEN_ERR_` and words; `WARDEN_ERR_SHM_*` or `WARDEN_ERR_<AREA>` in a comment are not codes. */
const CODE = /WARDEN_ERR_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])/g;

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p, ext) : ext.test(name) ? [p] : [];
  });
}

/** Each package with its catalogue (`src/error-codes.ts`) and the @warden packages it depends on. */
function packages(): Map<string, { catalogue: Record<string, string>; deps: string[]; dir: string }> {
  const out = new Map<string, { catalogue: Record<string, string>; deps: string[]; dir: string }>();
  for (const name of readdirSync(PACKAGES)) {
    const dir = join(PACKAGES, name);
    const catalogueFile = name === 'core' ? join(dir, 'src', 'contracts', 'error-codes.ts') : join(dir, 'src', 'error-codes.ts');
    if (!statSync(join(dir, 'src'), { throwIfNoEntry: false })) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const deps = Object.keys(pkg.dependencies ?? {})
      .filter((d) => d.startsWith('@warden/'))
      .map((d) => d.slice('@warden/'.length));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    out.set(name, { catalogue: require(catalogueFile).ERROR_CODES, deps, dir });
  }
  return out;
}

describe('error code catalogues', () => {
  const all = packages();

  it('every package with sources has a catalogue of its codes, each with a meaning', () => {
    expect([...all.keys()].sort()).toEqual(['app-types', 'core', 'http-router', 'idmap', 'latin1', 'ns-linux', 'shm-transport', 'unit-http']);
    for (const [name, { catalogue }] of all) {
      for (const [code, meaning] of Object.entries(catalogue)) {
        expect(`${name} ${code}`).toMatch(/ WARDEN_ERR_[A-Z0-9_]+$/);
        expect(meaning.length).toBeGreaterThan(10);
      }
    }
  });

  it('every code in the sources is in the catalogue of its package or of a package it depends on', () => {
    const missing: string[] = [];
    for (const [name, { dir, deps }] of all) {
      const known = new Set([name, ...deps].flatMap((p) => Object.keys(all.get(p)?.catalogue ?? {})));
      for (const file of files(join(dir, 'src'), /\.ts$/)) {
        for (const [code] of readFileSync(file, 'utf8').matchAll(CODE)) {
          if (!known.has(code)) missing.push(`${relative(PACKAGES, file)}: ${code}`);
        }
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });

  it('every catalogued code is raised somewhere in its package and owned by one package only', () => {
    const owners = new Map<string, string>();
    const unused: string[] = [];
    for (const [name, { dir, catalogue }] of all) {
      const text = files(join(dir, 'src'), /\.ts$/)
        .filter((f) => !f.endsWith('error-codes.ts'))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      for (const code of Object.keys(catalogue)) {
        expect(`${code} in ${owners.get(code) ?? name}`).toBe(`${code} in ${name}`);
        owners.set(code, name);
        if (!new Set(text.match(CODE)).has(code)) unused.push(`${name}: ${code}`);
      }
    }
    expect(unused).toEqual([]);
  });

  it('the scan reads codes and skips prefixes written in prose', () => {
    expect('`WARDEN_ERR_SHM_*` and WARDEN_ERR_CLI_... but WARDEN_ERR_PID_IN_USE and WARDEN_ERR_<AREA>'.match(CODE)).toEqual(['WARDEN_ERR_PID_IN_USE']);
  });
});

describe('errors from a second copy of @warden/core (a plugin with its own node_modules)', () => {
  /** The error classes as another copy of core defines them: the same file, loaded again into a fresh registry. */
  function secondCopy(): typeof import('../src/contracts/errors') {
    let copy: typeof import('../src/contracts/errors') | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      copy = require('../src/contracts/errors');
    });
    expect(copy!.ConfigValidationError).not.toBe(ConfigValidationError);
    return copy!;
  }

  it('is recognised by brand and code: isWardenError, and instanceof of this copy', () => {
    const other = secondCopy();
    const e = new other.ConfigValidationError('The "x" value must be a string.', '/applications/a/x', 'WARDEN_ERR_PLUGIN_X');
    expect(isWardenError(e)).toBe(true);
    expect(isWardenError(e, 'WARDEN_ERR_PLUGIN_X')).toBe(true);
    expect(isWardenError(e, 'WARDEN_ERR_CONFIG_INVALID')).toBe(false);
    expect(e instanceof WardenError).toBe(true);
    expect(e instanceof ConfigValidationError).toBe(true);
    expect(new other.ApplyError('boom') instanceof ConfigValidationError).toBe(false);
    expect(isWardenError(Object.assign(new Error('x'), { code: 'WARDEN_ERR_APPLY' }))).toBe(false);
  });

  it("becomes 400 Invalid configuration with the plugin's code and path, not a generic plugin failure", () => {
    const other = secondCopy();
    const e = new other.ConfigValidationError('The "x" value must be a string.', '/applications/a/x', 'WARDEN_ERR_PLUGIN_X');
    expect(applyFailure(e).response).toEqual({
      status: 400,
      body: { error: 'Invalid configuration.', detail: 'WARDEN_ERR_PLUGIN_X at /applications/a/x: The "x" value must be a string.' },
    });
    const container = rootContainer.createChildContainer();
    const launcher: AppLauncher = {
      types: ['copy'],
      schema: { properties: { x: {} } },
      launch: () => ({ executable: '/bin/true', argv: ['/bin/true'], env: {} }),
      validate: () => {
        throw new other.ConfigValidationError('The "x" value must be a string.', '/applications/a/x', 'WARDEN_ERR_PLUGIN_X');
      },
    };
    container.register(TOKENS.AppLauncher, { useValue: launcher });
    const me = process.geteuid?.() === 0 ? 'root' : undefined;
    const validator = new ConfigValidator(container, planContextDefaults({ user: me, tmpdir: '/tmp' }));
    let thrown: unknown;
    try {
      validator.validate({ listeners: {}, applications: { a: { type: 'copy', x: 1 } } });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'WARDEN_ERR_PLUGIN_X', path: '/applications/a/x' });
  });

  it('a subclass a plugin defines keeps ordinary instanceof', () => {
    class PluginError extends WardenError {}
    const e = new PluginError('WARDEN_ERR_PLUGIN_Y', 'y');
    expect(e instanceof PluginError).toBe(true);
    expect(e instanceof WardenError).toBe(true);
    expect(new WardenError('WARDEN_ERR_PLUGIN_Y', 'y') instanceof PluginError).toBe(false);
    expect(e instanceof ConfigValidationError).toBe(false);
  });
});
