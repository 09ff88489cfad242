import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { buildCore, CORE_DIR, REPO_ROOT } from './process-helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { importGraph, findCycles } = require(join(REPO_ROOT, 'scripts', 'import-cycles.js')) as {
  importGraph(dir: string): Map<string, string[]>;
  findCycles(graph: Map<string, string[]>): string[][];
};

describe('import cycles', () => {
  it('no module of core dist requires itself through a chain of requires (runtime <-> daemon/warden broken)', () => {
    buildCore();
    const dist = join(CORE_DIR, 'dist');
    const cycles = findCycles(importGraph(dist)).map((c) => [...c, c[0]].map((f) => relative(dist, f)).join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('the walk finds a cycle of three modules and ignores a diamond', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-cycles-'));
    try {
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'a.js'), `require('./sub'); require("./d");`);
      writeFileSync(join(dir, 'sub', 'index.js'), `require('../b.js');`);
      writeFileSync(join(dir, 'b.js'), `require('./a'); require('./d'); require('fs');`);
      writeFileSync(join(dir, 'd.js'), `module.exports = 1;`);
      const cycles = findCycles(importGraph(dir)).map((c) => c.map((f) => relative(dir, f)));
      expect(cycles).toEqual([['a.js', 'sub/index.js', 'b.js']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
