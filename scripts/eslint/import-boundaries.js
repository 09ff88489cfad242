// ESLint rule `warden/import-boundaries`: a file imports only the @warden packages its package may import
// (boundaries.js, from shared/DESIGN.md §2), only through the entry points those packages export, and never reaches
// into another package by a relative path. Every way a module is named counts: `import`, `export ... from`,
// `import x = require()`, `require()`, `require.resolve()`, dynamic `import()` and `import('...')` types.
// A specifier computed at run time (core's plugin loader) cannot be checked and is left alone.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const PACKAGES = path.join(ROOT, 'packages');
const SCOPED = /^@warden\/([^/]+)(?:\/(.+))?$/;

const exportsCache = new Map();
/** The subpaths (`http`, `bin/wardend.js`) that package `name` exports, or undefined when it has no such package. */
function exportedSubpaths(name) {
  if (!exportsCache.has(name)) {
    let subpaths;
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGES, name, 'package.json'), 'utf8'));
      subpaths = new Set(Object.keys(manifest.exports ?? {}).map((k) => k.replace(/^\.\/?/, '')));
    } catch {
      subpaths = undefined;
    }
    exportsCache.set(name, subpaths);
  }
  return exportsCache.get(name);
}

/** The package directory name a file lies in (`packages/<name>/...`), or undefined. */
function packageOf(file) {
  const rel = path.relative(PACKAGES, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep)[0];
}

/** The module name a node holds when it is a literal string (or a template literal without expressions). */
function literal(node) {
  if (!node) return undefined;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked;
  if (node.type === 'TSLiteralType') return literal(node.literal);
  return undefined;
}

function isRequire(callee) {
  if (callee.type === 'Identifier') return callee.name === 'require';
  return (
    callee.type === 'MemberExpression' &&
    callee.object.type === 'Identifier' &&
    callee.object.name === 'require' &&
    !callee.computed &&
    callee.property.name === 'resolve'
  );
}

/** @type {import('eslint').Rule.RuleModule} */
module.exports = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the package import boundaries of shared/DESIGN.md §2' },
    schema: [
      {
        type: 'object',
        properties: {
          from: { type: 'string' },
          allow: { type: 'array', items: { type: 'string' } },
        },
        required: ['from', 'allow'],
        additionalProperties: false,
      },
    ],
    messages: {
      forbidden:
        "{{from}} may not import '@warden/{{target}}' (it may import {{allowed}}): see the package boundaries in DESIGN.md §2 and scripts/eslint/boundaries.js.",
      unknown: "'@warden/{{target}}' is no package of this repository.",
      deep: "'{{spec}}' is not an entry point of @warden/{{target}} (its package.json exports {{exported}}): import '@warden/{{target}}' or an exported subpath.",
      relative: "'{{spec}}' reaches into packages/{{target}} by a relative path: import it by its package name, if {{from}} may.",
    },
  },
  create(context) {
    const { from, allow } = context.options[0];
    const own = packageOf(context.filename);
    const allowed = allow.length ? allow.map((a) => `@warden/${a}`).join(', ') : 'no @warden package';

    function check(node, spec) {
      if (spec === undefined) return;
      const scoped = SCOPED.exec(spec);
      if (scoped) {
        const [, target, sub] = scoped;
        const exported = exportedSubpaths(target);
        if (!exported) return context.report({ node, messageId: 'unknown', data: { target } });
        if (!allow.includes(target)) return context.report({ node, messageId: 'forbidden', data: { from, target, allowed } });
        if (sub !== undefined && !exported.has(sub)) {
          const list = [...exported].filter((s) => s && s !== 'package.json');
          context.report({ node, messageId: 'deep', data: { spec, target, exported: list.length ? list.join(', ') : 'no subpath' } });
        }
        return;
      }
      if (spec.startsWith('.')) {
        const target = packageOf(path.resolve(path.dirname(context.filename), spec));
        if (target !== undefined && target !== own) context.report({ node, messageId: 'relative', data: { spec, target, from } });
      }
    }

    return {
      ImportDeclaration: (node) => check(node.source, literal(node.source)),
      ExportNamedDeclaration: (node) => node.source && check(node.source, literal(node.source)),
      ExportAllDeclaration: (node) => check(node.source, literal(node.source)),
      ImportExpression: (node) => check(node.source, literal(node.source)),
      TSImportType: (node) => check(node.argument, literal(node.argument)),
      TSExternalModuleReference: (node) => check(node.expression, literal(node.expression)),
      CallExpression: (node) => isRequire(node.callee) && check(node.arguments[0], literal(node.arguments[0])),
    };
  },
};
