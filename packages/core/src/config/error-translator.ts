import type { ErrorObject } from 'ajv';
import { ConfigValidationError } from '../contracts';

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

/** Unit's sentence for an application `type` no loaded plugin provides. */
export function unknownTypeMessage(type: string): string {
  return `The module to run "${type}" is not found among the available application modules.`;
}

/** The JSON Pointer segments of an ajv instance path, unescaped. */
function segments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
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

/** Unit's own sentences for the cases where it has one. */
function unitSpecific(err: ErrorObject, segs: string[], name: string, inArray: boolean): ConfigValidationError | undefined {
  const p = err.params as Record<string, unknown>;
  const path = err.instancePath || '/';
  if (err.keyword === 'type') {
    const expected = String(p.type).split(',');
    // `The "arguments" array must contain only string values.`
    if (inArray && expected.length === 1 && ARRAY_WORDS[expected[0]]) {
      return new ConfigValidationError(`The "${name}" array must contain only ${ARRAY_WORDS[expected[0]]} values.`, path, 'WARDEN_ERR_CONFIG_TYPE');
    }
    // `The "NAME" environment value must be a string.`
    if (segs.length === 4 && segs[0] === 'applications' && segs[2] === 'environment') {
      return new ConfigValidationError(`The "${name}" environment value must be a string.`, path, 'WARDEN_ERR_CONFIG_TYPE');
    }
  }
  if (err.keyword === 'required' && p.missingProperty === 'servers' && segs.length === 2 && segs[0] === 'upstreams') {
    return new ConfigValidationError(`The "${segs[1]}" upstream must contain "servers" object value.`, path, 'WARDEN_ERR_CONFIG_REQUIRED');
  }
  if (name === 'weight' && (err.keyword === 'minimum' || err.keyword === 'maximum')) {
    return new ConfigValidationError(
      err.keyword === 'minimum' ? 'The "weight" number must be positive.' : 'The "weight" number must not exceed 1,000,000.',
      path,
      'WARDEN_ERR_CONFIG_RANGE',
    );
  }
  if (err.keyword === 'minimum' && p.limit === 0) {
    return new ConfigValidationError(`The "${name}" number must not be negative.`, path, 'WARDEN_ERR_CONFIG_RANGE');
  }
  return undefined;
}

const IGNORED = new Set(['oneOf', 'anyOf', 'allOf', 'if', 'then', 'else', 'not', '$ref']);

/**
 * Turns ajv's errors into one ConfigValidationError: the first meaningful error, as one sentence in Unit's words
 * (`Required parameter "x" is missing.`, `Unknown parameter "x".`, `The "x" value must be ..., but not ...`),
 * with the JSON path of the offending value and a stable code.
 */
export function translateAjvErrors(errors: ErrorObject[]): ConfigValidationError {
  const err = errors.find((e) => !IGNORED.has(e.keyword)) ?? errors[0];
  const segs = segments(err.instancePath);
  const path = err.instancePath || '/';
  const { name, inArray } = nameOf(segs);
  const subject = name === '' ? 'The configuration' : inArray ? `Each element of the "${name}" array` : `The "${name}" value`;
  const p = err.params as Record<string, unknown>;
  const special = unitSpecific(err, segs, name, inArray);
  if (special) return special;
  switch (err.keyword) {
    case 'required':
      return new ConfigValidationError(`Required parameter "${p.missingProperty}" is missing.`, path, 'WARDEN_ERR_CONFIG_REQUIRED');
    case 'additionalProperties':
      return new ConfigValidationError(
        `Unknown parameter "${p.additionalProperty}".`,
        `${err.instancePath}/${String(p.additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1')}`,
        'WARDEN_ERR_CONFIG_UNKNOWN',
      );
    case 'type': {
      const expected = String(p.type).split(',');
      const actual = describeType(err.data);
      return new ConfigValidationError(`${subject} must be ${joinTypes(expected)}, but not ${actual}.`, path, 'WARDEN_ERR_CONFIG_TYPE');
    }
    case 'discriminator':
      if (p.error === 'mapping') {
        return new ConfigValidationError(unknownTypeMessage(String(p.tagValue)), `${path === '/' ? '' : path}/type`, 'WARDEN_ERR_CONFIG_APP_TYPE');
      }
      if (p.tagValue === undefined) {
        return new ConfigValidationError(`Required parameter "type" is missing.`, path, 'WARDEN_ERR_CONFIG_REQUIRED');
      }
      return new ConfigValidationError(`The "type" value must be a string, but not ${describeType(p.tagValue)}.`, `${path}/type`, 'WARDEN_ERR_CONFIG_TYPE');
    case 'enum':
      return new ConfigValidationError(
        `${subject} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}.`,
        path,
        'WARDEN_ERR_CONFIG_ENUM',
      );
    case 'const':
      return new ConfigValidationError(`${subject} must be ${JSON.stringify(p.allowedValue)}.`, path, 'WARDEN_ERR_CONFIG_ENUM');
    case 'minimum':
    case 'exclusiveMinimum':
      return new ConfigValidationError(
        err.keyword === 'minimum' ? `The "${name}" number must be equal to or greater than ${p.limit}.` : `The "${name}" number must be greater than ${p.limit}.`,
        path,
        'WARDEN_ERR_CONFIG_RANGE',
      );
    case 'maximum':
    case 'exclusiveMaximum':
      return new ConfigValidationError(
        err.keyword === 'maximum' ? `The "${name}" number must not exceed ${p.limit}.` : `The "${name}" number must be less than ${p.limit}.`,
        path,
        'WARDEN_ERR_CONFIG_RANGE',
      );
    case 'minLength':
      return new ConfigValidationError(
        p.limit === 1 ? `${subject} must not be empty.` : `${subject} must be at least ${p.limit} characters long.`,
        path,
        'WARDEN_ERR_CONFIG_RANGE',
      );
    case 'maxLength':
      return new ConfigValidationError(`${subject} must be at most ${p.limit} characters long.`, path, 'WARDEN_ERR_CONFIG_RANGE');
    case 'minItems':
      return new ConfigValidationError(`The "${name}" array must contain at least ${p.limit} element${p.limit === 1 ? '' : 's'}.`, path, 'WARDEN_ERR_CONFIG_RANGE');
    case 'maxItems':
      return new ConfigValidationError(`The "${name}" array must contain at most ${p.limit} elements.`, path, 'WARDEN_ERR_CONFIG_RANGE');
    case 'pattern':
      return new ConfigValidationError(`${subject} ${JSON.stringify(err.data)} has an invalid format.`, path, 'WARDEN_ERR_CONFIG_FORMAT');
    default:
      return new ConfigValidationError(`${subject} is invalid: it ${err.message ?? 'does not match the schema'}.`, path, 'WARDEN_ERR_CONFIG_INVALID');
  }
}
