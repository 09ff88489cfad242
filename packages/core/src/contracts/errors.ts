/**
 * Brands of Warden's errors, in the global symbol registry so that every copy of @warden/core in a process (a plugin
 * installed with its own node_modules) reads the same ones, as undici does with `Symbol.for('undici.error.UND_ERR')`.
 * An instance carries its class lineage under {@link LINEAGE}; a class names itself under {@link KIND}.
 */
const LINEAGE = Symbol.for('warden.error.lineage');
const KIND = Symbol.for('warden.error.kind');

type Branded = { [LINEAGE]?: readonly string[] };
type KindedClass = { [KIND]?: string; prototype: object };

/**
 * True when `value` is a {@link WardenError} made by any copy of @warden/core (not only this one), optionally with
 * the given stable code. Use it, or `instanceof` on core's error classes (which checks the same brand), wherever an
 * error may come from a plugin.
 */
export function isWardenError(value: unknown, code?: string): value is WardenError {
  if (typeof value !== 'object' || value === null) return false;
  const lineage = (value as Branded)[LINEAGE];
  if (!Array.isArray(lineage) || !lineage.includes('WardenError')) return false;
  return code === undefined || (value as { code?: unknown }).code === code;
}

/** `instanceof` for core's error classes: by brand for the classes core defines, by prototype for any subclass. */
function hasInstance(cls: KindedClass, value: unknown): boolean {
  if (!Object.prototype.hasOwnProperty.call(cls, KIND)) return Function.prototype[Symbol.hasInstance].call(cls, value);
  const lineage = typeof value === 'object' && value !== null ? (value as Branded)[LINEAGE] : undefined;
  return Array.isArray(lineage) && lineage.includes(cls[KIND]!);
}

/**
 * Errors with a stable code (as fastify's FST_ERR_* and undici's UND_ERR_*). `message` is a sentence a user can act
 * on; `path` names the JSON path in the config when the error is about one. Every code is listed with its meaning
 * in the catalogue of the package that raises it (core's: `src/contracts/error-codes.ts`).
 */
export class WardenError extends Error {
  static readonly [KIND]: string = 'WardenError';

  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasInstance(this, value);
  }

  constructor(
    /** Stable code, `WARDEN_ERR_<AREA>_<WHAT>`. */
    readonly code: string,
    message: string,
    /** JSON path of the offending value, e.g. `/applications/go/isolation/uidmap/0`. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'WardenError';
    const lineage: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
      if (Object.prototype.hasOwnProperty.call(c, KIND)) lineage.push((c as KindedClass)[KIND]!);
    }
    Object.defineProperty(this, LINEAGE, { value: lineage });
  }
}

/**
 * A config that is well-formed JSON but not acceptable. Becomes 400 `Invalid configuration.` with `message` as the
 * detail (Unit's wording where Unit has one, e.g. `Required parameter "executable" is missing.`).
 */
export class ConfigValidationError extends WardenError {
  static override readonly [KIND]: string = 'ConfigValidationError';

  constructor(message: string, path?: string, code = 'WARDEN_ERR_CONFIG_INVALID') {
    super(code, message, path);
    this.name = 'ConfigValidationError';
  }
}

/**
 * Applying a valid config failed at run time (port in use, app does not start, kernel refused a map). Becomes 500
 * `Failed to apply new configuration.` with a detail naming the app and the failing step.
 */
export class ApplyError extends WardenError {
  static override readonly [KIND]: string = 'ApplyError';

  constructor(
    message: string,
    readonly app?: string,
    readonly step?: string,
    readonly errno?: number,
    code = 'WARDEN_ERR_APPLY',
  ) {
    super(code, message);
    this.name = 'ApplyError';
  }
}
