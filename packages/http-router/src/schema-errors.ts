import type { RouterConfigProblem } from './config-check';
import { MAX_TIMER_SECONDS } from './config-schema';

/** The fields of an ajv ErrorObject this translation reads. */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  data?: unknown;
  message?: string;
}

/** Unit's own sentence for one schema error, when the embedder has one (checked before the general ones). */
export type SchemaSentence = (err: SchemaError, segs: string[], name: string, inArray: boolean) => RouterConfigProblem | undefined;

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer number',
  number: 'a number',
  string: 'a string',
  object: 'an object',
  array: 'an array',
  boolean: 'a boolean',
  null: 'null',
};

/** "a string", "an integer number", ... for a JSON value (what Unit calls its type in error messages). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer number' : 'a fractional number';
  return TYPE_NAMES[typeof value] ?? typeof value;
}

/** The JSON Pointer segments of an instance path, unescaped. */
function segments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The name Unit uses for the value at a path: its key, or for an array element its array's key. */
function nameOf(segs: string[]): { name: string; inArray: boolean } {
  const last = segs[segs.length - 1];
  if (last !== undefined && /^\d+$/.test(last) && segs.length > 1) return { name: segs[segs.length - 2], inArray: true };
  return { name: last ?? '', inArray: false };
}

function joinTypes(types: string[]): string {
  const names = types.map((t) => TYPE_NAMES[t] ?? t);
  if (names.length <= 1) return names[0] ?? 'valid';
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

const ARRAY_WORDS: Record<string, string> = { string: 'string', object: 'object', integer: 'integer', number: 'number', boolean: 'boolean', array: 'array' };

const problem = (message: string, path: string, code: string): RouterConfigProblem => ({ path, code, message });

/** Unit's sentences for the router's objects where it has its own. */
const routerSentence: SchemaSentence = (err, segs, name, inArray) => {
  const p = err.params;
  const path = err.instancePath || '/';
  // `The "text/plain" MIME type array must contain only strings.`
  if (err.keyword === 'type' && inArray && segs[segs.length - 3] === 'mime_types') {
    return problem(`The "${name}" MIME type array must contain only strings.`, path, 'WARDEN_ERR_CONFIG_TYPE');
  }
  // `The "arguments" array must contain only string values.`
  if (err.keyword === 'type' && inArray) {
    const expected = String(p.type).split(',');
    if (expected.length === 1 && ARRAY_WORDS[expected[0]])
      return problem(`The "${name}" array must contain only ${ARRAY_WORDS[expected[0]]} values.`, path, 'WARDEN_ERR_CONFIG_TYPE');
  }
  if (err.keyword === 'required' && p.missingProperty === 'servers' && segs.length === 2 && segs[0] === 'upstreams') {
    return problem(`The "${segs[1]}" upstream must contain "servers" object value.`, path, 'WARDEN_ERR_CONFIG_REQUIRED');
  }
  if (name === 'weight' && (err.keyword === 'minimum' || err.keyword === 'maximum')) {
    return problem(
      err.keyword === 'minimum' ? 'The "weight" number must be positive.' : 'The "weight" number must not exceed 1,000,000.',
      path,
      'WARDEN_ERR_CONFIG_RANGE',
    );
  }
  // nxt_conf_vldt_return.
  if (name === 'return' && !inArray && (err.keyword === 'minimum' || err.keyword === 'maximum')) {
    return problem('The "return" value is out of allowed HTTP status code range 0-999.', path, 'WARDEN_ERR_CONFIG_RANGE');
  }
  if (err.keyword === 'minimum' && p.limit === 0) return problem(`The "${name}" number must not be negative.`, path, 'WARDEN_ERR_CONFIG_RANGE');
  // nxt_conf_vldt_tls_timeout: `The "timeout" number must be greater than zero.`
  if (err.keyword === 'exclusiveMinimum' && p.limit === 0) return problem(`The "${name}" number must be greater than zero.`, path, 'WARDEN_ERR_CONFIG_RANGE');
  // Unit has no upper bound on its timeouts; Warden's is a Node timer's.
  if (err.keyword === 'maximum' && p.limit === MAX_TIMER_SECONDS) {
    return problem(`The "${name}" number must not exceed ${MAX_TIMER_SECONDS} (Warden: the longest a Node timer holds).`, path, 'WARDEN_ERR_CONFIG_RANGE');
  }
  return undefined;
};

const IGNORED = new Set(['oneOf', 'anyOf', 'allOf', 'if', 'then', 'else', 'not', '$ref']);

/**
 * Turns ajv's errors into one problem: the first meaningful error, as one sentence in Unit's words
 * (`Required parameter "x" is missing.`, `Unknown parameter "x".`, `The "x" value must be ..., but not ...`), with
 * the JSON path of the offending value and a stable code. `special` gives the embedder's own sentences first
 * (wardend's for applications). The router's own `HttpRouter.prepare` and wardend's validator both use it, so the
 * same mistake reads the same in both.
 */
export function schemaProblem(errors: SchemaError[], special?: SchemaSentence): RouterConfigProblem {
  const err = errors.find((e) => !IGNORED.has(e.keyword)) ?? errors[0];
  const segs = segments(err.instancePath);
  const path = err.instancePath || '/';
  const { name, inArray } = nameOf(segs);
  const subject = name === '' ? 'The configuration' : inArray ? `Each element of the "${name}" array` : `The "${name}" value`;
  const p = err.params;
  const own = special?.(err, segs, name, inArray) ?? routerSentence(err, segs, name, inArray);
  if (own) return own;
  switch (err.keyword) {
    case 'required':
      return problem(`Required parameter "${p.missingProperty}" is missing.`, path, 'WARDEN_ERR_CONFIG_REQUIRED');
    case 'additionalProperties':
      return problem(
        `Unknown parameter "${p.additionalProperty}".`,
        `${err.instancePath}/${String(p.additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1')}`,
        'WARDEN_ERR_CONFIG_UNKNOWN',
      );
    case 'type':
      return problem(`${subject} must be ${joinTypes(String(p.type).split(','))}, but not ${describeType(err.data)}.`, path, 'WARDEN_ERR_CONFIG_TYPE');
    case 'enum':
      return problem(`${subject} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}.`, path, 'WARDEN_ERR_CONFIG_ENUM');
    case 'const':
      return problem(`${subject} must be ${JSON.stringify(p.allowedValue)}.`, path, 'WARDEN_ERR_CONFIG_ENUM');
    case 'minimum':
    case 'exclusiveMinimum':
      return problem(
        err.keyword === 'minimum'
          ? `The "${name}" number must be equal to or greater than ${p.limit}.`
          : `The "${name}" number must be greater than ${p.limit}.`,
        path,
        'WARDEN_ERR_CONFIG_RANGE',
      );
    case 'maximum':
    case 'exclusiveMaximum':
      return problem(
        err.keyword === 'maximum' ? `The "${name}" number must not exceed ${p.limit}.` : `The "${name}" number must be less than ${p.limit}.`,
        path,
        'WARDEN_ERR_CONFIG_RANGE',
      );
    case 'minLength':
      return problem(
        p.limit === 1 ? `${subject} must not be empty.` : `${subject} must be at least ${p.limit} characters long.`,
        path,
        'WARDEN_ERR_CONFIG_RANGE',
      );
    case 'maxLength':
      return problem(`${subject} must be at most ${p.limit} characters long.`, path, 'WARDEN_ERR_CONFIG_RANGE');
    case 'minItems':
      return problem(`The "${name}" array must contain at least ${p.limit} element${p.limit === 1 ? '' : 's'}.`, path, 'WARDEN_ERR_CONFIG_RANGE');
    case 'maxItems':
      return problem(`The "${name}" array must contain at most ${p.limit} elements.`, path, 'WARDEN_ERR_CONFIG_RANGE');
    case 'pattern':
      return problem(`${subject} ${JSON.stringify(err.data)} has an invalid format.`, path, 'WARDEN_ERR_CONFIG_FORMAT');
    default:
      return problem(`${subject} is invalid: it ${err.message ?? 'does not match the schema'}.`, path, 'WARDEN_ERR_CONFIG_INVALID');
  }
}
