/**
 * Addressing values inside the config by URL path, with Unit's rules: segments are percent-decoded object keys or
 * array indexes; one trailing `/` is ignored. All edits return a new tree and never touch the input.
 */
import { WardenError } from '../contracts';

/** Why a path operation could not be done; the control API maps it to Unit's status and body. */
export type PathFailure = 'not-found' | 'not-allowed';

/** Thrown by the edit functions. */
export class ConfigPathError extends WardenError {
  constructor(readonly reason: PathFailure) {
    super(
      reason === 'not-found' ? 'WARDEN_ERR_CONFIG_PATH_NOT_FOUND' : 'WARDEN_ERR_CONFIG_PATH_METHOD',
      reason === 'not-found' ? "Value doesn't exist." : "Method isn't allowed.",
    );
    this.name = 'ConfigPathError';
  }
}

/**
 * Splits the part of a URL path after its prefix (`/config`) into decoded segments. Returns undefined for a path
 * that cannot be decoded (bad percent escape).
 */
export function splitPath(rest: string): string[] | undefined {
  if (rest === '' || rest === '/') return [];
  if (!rest.startsWith('/')) return undefined;
  let body = rest.slice(1);
  if (body.endsWith('/')) body = body.slice(0, -1);
  try {
    return body.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const isIndex = (s: string) => /^(0|[1-9][0-9]*)$/.test(s);
const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === 'object' && v !== null;

function child(value: unknown, segment: string): { found: boolean; value?: unknown } {
  if (Array.isArray(value)) {
    if (!isIndex(segment)) return { found: false };
    const i = Number(segment);
    return i < value.length ? { found: true, value: value[i] } : { found: false };
  }
  if (isContainer(value) && own(value, segment)) return { found: true, value: (value as Record<string, unknown>)[segment] };
  return { found: false };
}

/** The value at `segments`, or `{found: false}`. */
export function getAt(root: unknown, segments: string[]): { found: boolean; value?: unknown } {
  let cur: unknown = root;
  for (const s of segments) {
    const c = child(cur, s);
    if (!c.found) return { found: false };
    cur = c.value;
  }
  return { found: true, value: cur };
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Copies the containers along the path so that the edit at the end does not alias the input. */
function cloneAlong(root: unknown, parents: string[]): { root: unknown; parent: unknown } {
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return [...v];
    if (isContainer(v)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(v)) setOwn(o, k, (v as Record<string, unknown>)[k]);
      return o;
    }
    return v;
  };
  const newRoot = copy(root);
  let cur = newRoot;
  for (const s of parents) {
    const c = child(cur, s);
    if (!c.found || !isContainer(c.value)) throw new ConfigPathError('not-found');
    const next = copy(c.value);
    if (Array.isArray(cur)) cur[Number(s)] = next;
    else setOwn(cur as Record<string, unknown>, s, next);
    cur = next;
  }
  return { root: newRoot, parent: cur };
}

/**
 * PUT: replaces the value at the path, or creates the last segment when its parent exists. On an array parent,
 * index == length appends and a larger index is not found.
 */
export function putAt(root: unknown, segments: string[], value: unknown): unknown {
  if (segments.length === 0) return value;
  const last = segments[segments.length - 1];
  const { root: newRoot, parent } = cloneAlong(root, segments.slice(0, -1));
  if (Array.isArray(parent)) {
    if (!isIndex(last) || Number(last) > parent.length) throw new ConfigPathError('not-found');
    parent[Number(last)] = value;
  } else if (isContainer(parent)) {
    setOwn(parent as Record<string, unknown>, last, value);
  } else {
    throw new ConfigPathError('not-found');
  }
  return newRoot;
}

/** POST: appends to the array at the path; anything else is not allowed. */
export function postAt(root: unknown, segments: string[], value: unknown): unknown {
  const target = getAt(root, segments);
  if (!target.found) throw new ConfigPathError('not-found');
  if (!Array.isArray(target.value)) throw new ConfigPathError('not-allowed');
  return putAt(root, segments, [...target.value, value]);
}

/** DELETE: removes the value at the path (array elements are spliced out); the root becomes `{}`. */
export function deleteAt(root: unknown, segments: string[]): unknown {
  if (segments.length === 0) return {};
  if (!getAt(root, segments).found) throw new ConfigPathError('not-found');
  const last = segments[segments.length - 1];
  const { root: newRoot, parent } = cloneAlong(root, segments.slice(0, -1));
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete (parent as Record<string, unknown>)[last];
  return newRoot;
}
