#!/usr/bin/env node
// Finds import cycles among the compiled modules of one package: walks every relative `require()` of its dist
// (what really runs: TypeScript drops type-only imports there) and prints the cycles a depth-first walk meets (it
// meets at least one whenever there is one). Exit 1 when there is one.
// Usage: node scripts/import-cycles.js packages/core/dist
'use strict';
const { existsSync, readFileSync, readdirSync, statSync } = require('fs');
const { dirname, join, relative, resolve } = require('path');

function jsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? jsFiles(p) : p.endsWith('.js') ? [p] : [];
  });
}

function resolveRelative(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.js`, join(base, 'index.js')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** The relative requires of each module of `dir`: Map<file, file[]>. */
function importGraph(dir) {
  const graph = new Map();
  for (const file of jsFiles(dir)) {
    const deps = [];
    for (const m of readFileSync(file, 'utf8').matchAll(/\brequire\(\s*["'](\.{1,2}\/[^"']*|\.{1,2})["']\s*\)/g)) {
      const target = resolveRelative(file, m[1]);
      if (target && target.endsWith('.js')) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Every elementary cycle found by a depth-first walk, each as a list of files starting at its smallest name. */
function findCycles(graph) {
  const cycles = new Map();
  const state = new Map(); // 1 = on the stack, 2 = done
  const stack = [];
  const visit = (file) => {
    state.set(file, 1);
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === 1) {
        const cycle = stack.slice(stack.indexOf(dep));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const canonical = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(canonical.join('\0'), canonical);
      } else if (!state.has(dep)) {
        visit(dep);
      }
    }
    stack.pop();
    state.set(file, 2);
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return [...cycles.values()];
}

module.exports = { importGraph, findCycles };

if (require.main === module) {
  const dir = resolve(process.argv[2] ?? 'dist');
  const cycles = findCycles(importGraph(dir));
  for (const c of cycles) console.log([...c, c[0]].map((f) => relative(dir, f)).join(' -> '));
  process.exit(cycles.length ? 1 : 0);
}
