import { createHash, createHmac } from 'crypto';
import * as querystring from 'querystring';
import { compileFunction, createContext, type Context } from 'vm';

/**
 * Where template literals and JavaScript modules run: V8 contexts with JavaScript's built-ins only (no `process`, no
 * `require`, no code generated from strings). A config whose `settings.js_module` names modules gets a context of its
 * own, with each module's default export as a global of the module's name (Unit: `import name from "name";
 * globalThis.name = name`); templates of a config without modules share one.
 */

let shared: Context | null = null;
let current: Context | null = null;

function newContext(globals: Record<string, unknown>): Context {
  return createContext(globals, { name: 'warden templates', codeGeneration: { strings: false, wasm: false } });
}

/** The context templates are compiled in now (see withTemplateContext). */
export function templateContext(): Context {
  return current ?? (shared ??= newContext(Object.create(null) as Record<string, unknown>));
}

/** Runs `fn`, a synchronous compile, with the templates it compiles in `context` (null: the shared one). */
export function withTemplateContext<T>(context: Context | null, fn: () => T): T {
  const prev = current;
  current = context;
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/** A module that does not compile, cannot be found, or threw while it loaded. */
export class JsModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsModuleError';
  }
}

/** `import name from 'module'` at the start of a line: the one import form njs knows (a default import). */
const IMPORT = /^([ \t]*)import[ \t]+([A-Za-z_$][\w$]*)[ \t]+from[ \t]+(['"])([^'"\r\n]+)\3[ \t]*;?/gm;
/** `export default` at the start of a line: the one export form njs knows. */
const EXPORT_DEFAULT = /^([ \t]*)export[ \t]+default\b/gm;

/**
 * njs's built-in modules a module may import, as far as Node has the same API: `crypto` (createHash, createHmac;
 * `digest()` with `hex`, `base64`, `base64url` or none for bytes) and `querystring`. njs's `fs`, `xml` and `zlib`
 * are not there.
 */
const BUILTIN_MODULES: Readonly<Record<string, unknown>> = Object.freeze({
  crypto: Object.freeze({ createHash: (alg: string) => createHash(alg), createHmac: (alg: string, key: string | Buffer) => createHmac(alg, key) }),
  querystring: Object.freeze({
    parse: querystring.parse,
    stringify: querystring.stringify,
    decode: querystring.decode,
    encode: querystring.encode,
    escape: querystring.escape,
    unescape: querystring.unescape,
  }),
});

type ModuleFunction = (load: (name: string) => unknown, exports: { default?: unknown }) => unknown;

/**
 * A module's text compiled as a function of its imports: njs modules have default imports and a default export only,
 * which become a call and an assignment; any other `import` or `export` is a syntax error, as it is to njs. Strict
 * mode, as a module's code is. Throws JsModuleError with V8's message.
 */
function compileModule(name: string, text: string, context: Context): ModuleFunction {
  const body = text
    .replace(IMPORT, (_m, indent: string, local: string, _q: string, from: string) => `${indent}const ${local} = __load(${JSON.stringify(from)});`)
    .replace(EXPORT_DEFAULT, (_m, indent: string) => `${indent}__exports.default =`);
  try {
    return compileFunction(`'use strict';\n${body}\n;return __exports.default;`, ['__load', '__exports'], {
      parsingContext: context,
      filename: `js_modules/${name}`,
    }) as ModuleFunction;
  } catch (e) {
    const err = e as Error;
    throw new JsModuleError(`${err.name}: ${err.message}`);
  }
}

/** Checks that a module's text compiles (nothing of it runs); throws JsModuleError. */
export function checkJsModule(name: string, text: string): void {
  compileModule(name, text, templateContext());
}

/**
 * A context with the modules `names` loaded from `sources` (name → text): each runs once, its default export
 * becomes the global `name`. A module may import another of `sources` by name. Throws JsModuleError for a module that
 * is missing, does not compile, imports itself (directly or not) or throws while it loads. njs's `crypto` and
 * `querystring` can be imported too (BUILTIN_MODULES).
 */
export function contextWithModules(names: readonly string[], sources: Readonly<Record<string, string>>): Context {
  const globals = Object.create(null) as Record<string, unknown>;
  const context = newContext(globals);
  const loaded = new Map<string, unknown>();
  const loading = new Set<string>();
  const load = (name: string): unknown => {
    if (Object.prototype.hasOwnProperty.call(BUILTIN_MODULES, name)) return BUILTIN_MODULES[name];
    if (loaded.has(name)) return loaded.get(name);
    const text = Object.prototype.hasOwnProperty.call(sources, name) ? sources[name] : undefined;
    if (text === undefined) throw new JsModuleError(`Module "${name}" is not found.`);
    if (loading.has(name)) throw new JsModuleError(`Module "${name}" imports itself.`);
    loading.add(name);
    const fn = compileModule(name, text, context);
    let value: unknown;
    try {
      value = fn(load, Object.create(null) as { default?: unknown });
    } catch (e) {
      if (e instanceof JsModuleError) throw e;
      throw new JsModuleError(`Module "${name}" failed while loading: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    loading.delete(name);
    loaded.set(name, value);
    return value;
  };
  for (const name of names) globals[name] = load(name);
  return context;
}

/** Where `settings.js_module` (a string or an array of strings) names modules: each name and its JSON pointer. */
export function jsModuleRefs(settings: unknown): Array<{ name: string; path: string }> {
  const v = (settings as { js_module?: unknown } | undefined)?.js_module;
  if (typeof v === 'string') return [{ name: v, path: '/settings/js_module' }];
  if (!Array.isArray(v)) return [];
  return v.flatMap((n, i) => (typeof n === 'string' ? [{ name: n, path: `/settings/js_module/${i}` }] : []));
}
