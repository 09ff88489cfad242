/** One line of `/proc/PID/uid_map` or `gid_map`: ids `container..container+size-1` inside are `host..` outside. */
export interface IdMapEntry {
  container: number;
  host: number;
  size: number;
}

/** Which map a value belongs to; used in messages (`"uidmap" field ...`). */
export type IdMapField = 'uidmap' | 'gidmap';

/** The kernel accepts at most 340 lines per map (since Linux 4.15; 5 before). */
export const MAX_ID_MAP_LINES = 340;

const MAX_ID = 0xffffffff; // ids are u32; (u32)-1 is invalid

/** An id-map problem, with a stable code (`WARDEN_ERR_IDMAP_*`) and a message a user can act on. */
export class IdMapError extends Error {
  constructor(
    /** Stable code, e.g. `WARDEN_ERR_IDMAP_RANGE`. */
    readonly code: string,
    message: string,
    /** JSON path of the offending value relative to the isolation object, e.g. `uidmap/1`. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'IdMapError';
  }
}

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < MAX_ID;
}

/**
 * Checks the shape of a `uidmap`/`gidmap` value: an array of at most 340 `{container, host, size}` objects with
 * integer fields, no other keys, and no two entries overlapping on either side. Returns the entries.
 */
export function parseIdMap(value: unknown, field: IdMapField): IdMapEntry[] {
  if (!Array.isArray(value)) {
    throw new IdMapError('WARDEN_ERR_IDMAP_TYPE', `The "${field}" value must be an array.`, field);
  }
  if (value.length > MAX_ID_MAP_LINES) {
    throw new IdMapError(
      'WARDEN_ERR_IDMAP_TOO_MANY',
      `The "${field}" value has ${value.length} entries; the kernel accepts at most ${MAX_ID_MAP_LINES}.`,
      field,
    );
  }
  const entries = value.map((raw, i) => {
    const path = `${field}/${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new IdMapError('WARDEN_ERR_IDMAP_TYPE', `The "${field}" entry ${i} must be an object.`, path);
    }
    const e = raw as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['container', 'host', 'size'].includes(key)) {
        throw new IdMapError('WARDEN_ERR_IDMAP_TYPE', `Unknown parameter "${key}".`, `${path}/${key}`);
      }
    }
    for (const key of ['container', 'host', 'size'] as const) {
      if (e[key] === undefined) {
        throw new IdMapError('WARDEN_ERR_IDMAP_TYPE', `Required parameter "${key}" is missing.`, path);
      }
      if (!isId(e[key])) {
        throw new IdMapError(
          'WARDEN_ERR_IDMAP_TYPE',
          `The "${key}" value of "${field}" entry ${i} must be an integer between 0 and ${MAX_ID - 1}.`,
          `${path}/${key}`,
        );
      }
    }
    const entry = { container: e.container as number, host: e.host as number, size: e.size as number };
    if (entry.size < 1 || entry.container + entry.size > MAX_ID || entry.host + entry.size > MAX_ID) {
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_RANGE',
        `${field} entry ${i} has "size": ${entry.size}; it must be at least 1 and keep both ranges below ${MAX_ID}.`,
        `${path}/size`,
      );
    }
    return entry;
  });
  checkOverlaps(entries, field);
  return entries;
}

function checkOverlaps(entries: IdMapEntry[], field: IdMapField): void {
  const overlaps = (a0: number, an: number, b0: number, bn: number) => a0 < b0 + bn && b0 < a0 + an;
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const a = entries[i];
      const b = entries[j];
      for (const side of ['host', 'container'] as const) {
        if (overlaps(a[side], a.size, b[side], b.size)) {
          throw new IdMapError(
            'WARDEN_ERR_IDMAP_RANGE',
            `${field} entry ${i} maps ${side} ${a[side]}..${a[side] + a.size - 1}, which overlaps entry ${j}.`,
            `${field}/${j}`,
          );
        }
      }
    }
  }
}

/** Whether `id` (an id inside the namespace) falls in one of the entries' container ranges. */
export function containerIdCovered(entries: readonly IdMapEntry[], id: number): boolean {
  return entries.some((e) => id >= e.container && id < e.container + e.size);
}

/** Translates an id inside the namespace to the host id, or `undefined` when it is not mapped. */
export function containerToHost(entries: readonly IdMapEntry[], id: number): number | undefined {
  const e = entries.find((m) => id >= m.container && id < m.container + m.size);
  return e === undefined ? undefined : e.host + (id - e.container);
}

/** Formats entries as the kernel expects them in `/proc/PID/uid_map`: one `container host size` line each. */
export function formatIdMap(entries: readonly IdMapEntry[]): string {
  return entries.map((e) => `${e.container} ${e.host} ${e.size}\n`).join('');
}
