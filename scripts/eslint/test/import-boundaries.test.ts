import { readFileSync } from 'fs';
import * as path from 'path';
import { ESLint, Linter } from 'eslint';
import * as tseslint from 'typescript-eslint';

// The CommonJS modules of the lint set-up, the very ones eslint.config.js loads (plain JS: no types to import).
/* eslint-disable @typescript-eslint/no-require-imports */
const { BOUNDARIES, PLUGIN_EXAMPLES } = require('../boundaries') as { BOUNDARIES: Record<string, string[]>; PLUGIN_EXAMPLES: string[] };
const warden = require('../plugin') as NonNullable<Linter.Config['plugins']>[string];
// The repository's config, given as an object: ESLint would load the file with import(), which jest cannot run.
const config = require('../../../eslint.config.js') as Linter.Config[];
/* eslint-enable @typescript-eslint/no-require-imports */

const ROOT = path.resolve(__dirname, '../../..');
const PACKAGES = Object.keys(BOUNDARIES);
const RULE = 'warden/import-boundaries';
const eslint = new ESLint({ cwd: ROOT, overrideConfigFile: true, overrideConfig: config });

/** The boundary errors the repository's eslint.config.js reports for `code` placed at `file` (relative to the root). */
async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const forFile = (await eslint.calculateConfigForFile(path.join(ROOT, file))) as Linter.Config;
  const setting = forFile.rules?.[RULE];
  if (!setting) throw new Error(`eslint.config.js applies no ${RULE} to ${file}`);
  const linter = new Linter({ cwd: ROOT });
  const messages = linter.verify(
    code,
    [{ files: ['**/*.{ts,js}'], plugins: { warden }, languageOptions: { parser: tseslint.parser }, rules: { [RULE]: setting } }],
    path.join(ROOT, file),
  );
  return messages.map((m) => `${m.line}: ${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('the import-boundaries lint rule', () => {
  it('reports each way a core source names a plugin package: import, import type, export from, import = require, require, require.resolve, import(), import types', async () => {
    const fixture = readFileSync(path.join(__dirname, 'fixtures/core-imports-plugins.ts'), 'utf8');
    const errors = await boundaryErrors('packages/core/src/bad.ts', fixture);
    expect(errors.map((e) => Number(e.split(':')[0]))).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(errors[0]).toBe(
      `3: ${RULE}: @warden/core may not import '@warden/ns-linux' (it may import @warden/http-router, @warden/shm-transport): ` +
        'see the package boundaries in DESIGN.md §2 and scripts/eslint/boundaries.js.',
    );
  });

  it.each(PACKAGES)('lets the sources of @warden/%s import exactly the packages DESIGN.md allows it', async (name) => {
    for (const target of PACKAGES.filter((p) => p !== 'server')) {
      const errors = await boundaryErrors(`packages/${name}/src/x.ts`, `import '@warden/${target}';\nrequire('@warden/${target}');\n`);
      expect([target, errors.length]).toEqual([target, BOUNDARIES[name].includes(target) ? 0 : 2]);
    }
  });

  it('lets a package’s tests import the package itself, and nothing its sources may not', async () => {
    expect(await boundaryErrors('packages/idmap/test/x.test.ts', "import { parseIdMap } from '@warden/idmap';")).toEqual([]);
    expect(await boundaryErrors('packages/idmap/test/x.test.ts', "import '@warden/core';")).toHaveLength(1);
    expect(await boundaryErrors('packages/core/test/x.test.ts', "const p = import('@warden/ns-linux');")).toHaveLength(1);
  });

  it('accepts only the entry points a package exports', async () => {
    expect(await boundaryErrors('packages/unit-http/src/x.ts', "import '@warden/app-types/http';")).toEqual([]);
    expect(await boundaryErrors('packages/ns-linux/src/x.ts', "import '@warden/core/dist/runtime/supervisor';")).toEqual([
      expect.stringMatching(
        /^1: warden\/import-boundaries: '@warden\/core\/dist\/runtime\/supervisor' is not an entry point of @warden\/core \(its package.json exports .*bin\/wardend\.js/,
      ),
    ]);
    expect(await boundaryErrors('packages/core/src/x.ts', "import '@warden/nonesuch';")).toHaveLength(1);
  });

  it('reports a relative path into another package', async () => {
    expect(await boundaryErrors('packages/ns-linux/src/x.ts', "import { TOKENS } from '../../core/src/contracts';")).toEqual([
      `1: ${RULE}: '../../core/src/contracts' reaches into packages/core by a relative path: import it by its package name, if @warden/ns-linux may.`,
    ]);
    expect(await boundaryErrors('packages/ns-linux/test/x.ts', "import { register } from '../src';")).toEqual([]);
  });

  it('holds the example plugins to core’s public entry', async () => {
    expect(PLUGIN_EXAMPLES).toEqual(['core']);
    expect(await boundaryErrors('examples/plugins/time-namespace/index.js', "require('@warden/core');")).toEqual([]);
    expect(await boundaryErrors('examples/plugins/time-namespace/index.js', "require('@warden/ns-linux');")).toHaveLength(1);
  });
});

describe('the package manifests', () => {
  it.each(PACKAGES)('@warden/%s declares the @warden dependencies its boundary allows, no more', (name) => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'packages', name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const warden = Object.keys(manifest.dependencies ?? {})
      .filter((d) => d.startsWith('@warden/'))
      .map((d) => d.slice('@warden/'.length));
    expect(warden.sort()).toEqual([...BOUNDARIES[name]].sort());
  });

  it('@warden/idmap, a leaf usable alone, has no dependencies at all', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'packages/idmap/package.json'), 'utf8')) as { dependencies?: object };
    expect(manifest.dependencies ?? {}).toEqual({});
  });
});
