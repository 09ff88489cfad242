import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { formatIdMap, IdMapError, parseIdMap, resolveIdMaps, validateIdMaps, writeIdMaps } from '@warden/idmap';

const privileged = { daemonUid: 0, daemonGid: 0 };
const unprivileged = { daemonUid: 1000, daemonGid: 1000 };
const root = { user: 'root', uid: 0, gid: 0, groups: [0] };
const app = { user: 'app', uid: 1000, gid: 1000, groups: [1000] };

function error(fn: () => unknown): IdMapError {
  try {
    fn();
  } catch (e) {
    if (e instanceof IdMapError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

describe('parseIdMap', () => {
  it('accepts more than 5 lines, up to the kernel limit of 340', () => {
    const map = Array.from({ length: 340 }, (_, i) => ({ container: i * 10, host: 100000 + i * 10, size: 10 }));
    expect(parseIdMap(map, 'uidmap')).toHaveLength(340);
    const e = error(() => parseIdMap([...map, { container: 5000, host: 900000, size: 1 }], 'uidmap'));
    expect(e.code).toBe('WARDEN_ERR_IDMAP_TOO_MANY');
  });

  it('rejects overlapping host ranges, naming both entries', () => {
    const e = error(() =>
      parseIdMap(
        [
          { container: 0, host: 1000, size: 1000 },
          { container: 5000, host: 1500, size: 10 },
        ],
        'uidmap',
      ),
    );
    expect(e.code).toBe('WARDEN_ERR_IDMAP_RANGE');
    expect(e.message).toBe('uidmap entry 0 maps host 1000..1999, which overlaps entry 1.');
  });

  it('rejects overlapping container ranges', () => {
    const e = error(() =>
      parseIdMap(
        [
          { container: 0, host: 1000, size: 10 },
          { container: 5, host: 5000, size: 10 },
        ],
        'gidmap',
      ),
    );
    expect(e.message).toBe('gidmap entry 0 maps container 0..9, which overlaps entry 1.');
  });

  it.each([
    [[{ container: 0, host: 1 }], 'Required parameter "size" is missing.'],
    [[{ container: 0, host: 1, size: 1, x: 1 }], 'Unknown parameter "x".'],
    [[{ container: -1, host: 1, size: 1 }], 'The "container" value of "uidmap" entry 0 must be an integer between 0 and 4294967294.'],
    [[{ container: 0, host: 1.5, size: 1 }], 'The "host" value of "uidmap" entry 0 must be an integer between 0 and 4294967294.'],
    [{}, 'The "uidmap" value must be an array.'],
    [[null], 'The "uidmap" entry 0 must be an object.'],
  ])('rejects malformed input %j', (value, message) => {
    expect(error(() => parseIdMap(value, 'uidmap')).message).toBe(message);
  });

  it('rejects size 0', () => {
    expect(error(() => parseIdMap([{ container: 0, host: 0, size: 0 }], 'uidmap')).code).toBe('WARDEN_ERR_IDMAP_RANGE');
  });
});

describe('validateIdMaps (Unit rules and messages)', () => {
  it('refuses maps without credential', () => {
    const e = error(() => validateIdMaps({ ...privileged, ...root, credential: false, uidmap: [] }));
    expect(e.message).toBe('"uidmap" is set but "isolation.namespaces.credential" is false or unset.');
    expect(e.code).toBe('WARDEN_ERR_IDMAP_NO_CREDENTIAL');
    const g = error(() => validateIdMaps({ ...privileged, ...root, credential: false, gidmap: [] }));
    expect(g.message).toBe('"gidmap" is set but "isolation.namespaces.credential" is false or unset.');
  });

  it('privileged: the app uid must be inside a container range', () => {
    const e = error(() => validateIdMaps({ ...privileged, ...app, credential: true, uidmap: [{ container: 0, host: 100000, size: 1000 }] }));
    expect(e.message).toBe('"uidmap" field has no "container" entry for user "app" (uid 1000).');
    expect(e.code).toBe('WARDEN_ERR_IDMAP_NOT_COVERED');
  });

  it('privileged: the app gid must be inside a container range', () => {
    const e = error(() => validateIdMaps({ ...privileged, ...app, credential: true, gidmap: [{ container: 0, host: 100000, size: 1000 }] }));
    expect(e.message).toBe('"gidmap" field has no "container" entry for gid 1000.');
  });

  it('privileged: every supplementary gid must be mapped', () => {
    const e = error(() =>
      validateIdMaps({
        ...privileged,
        ...app,
        groups: [1000, 27, 5000],
        credential: true,
        gidmap: [{ container: 0, host: 100000, size: 1001 }],
      }),
    );
    expect(e.message).toBe('"gidmap" field has missing suplementary gid mappings (found 2 out of 3).');
  });

  it('privileged: supplementary groups need a gidmap', () => {
    const e = error(() => validateIdMaps({ ...privileged, ...app, groups: [1000, 27], credential: true }));
    expect(e.message).toBe('"gidmap" field has no entries but user "app" has 2 suplementary groups.');
  });

  it('privileged: accepts maps covering uid, gid and groups', () => {
    const map = [{ container: 0, host: 1000, size: 1000 }];
    expect(validateIdMaps({ ...privileged, ...root, credential: true, uidmap: map, gidmap: map })).toEqual({
      uidmap: map,
      gidmap: map,
    });
  });

  it('unprivileged: at most one entry', () => {
    const e = error(() =>
      validateIdMaps({
        ...unprivileged,
        ...app,
        credential: true,
        uidmap: [
          { container: 1000, host: 1000, size: 1 },
          { container: 0, host: 5, size: 1 },
        ],
      }),
    );
    expect(e.message).toBe('"uidmap" field has 2 entries but unprivileged unit has a maximum of 1 map.');
    const g = error(() =>
      validateIdMaps({
        ...unprivileged,
        ...app,
        credential: true,
        gidmap: [
          { container: 1000, host: 1000, size: 1 },
          { container: 0, host: 5, size: 1 },
        ],
      }),
    );
    expect(g.message).toBe('"gidmap" field has 2 entries but unprivileged unit has a maximum of 1 map.');
  });

  it('unprivileged: only its own euid/egid', () => {
    const e = error(() => validateIdMaps({ ...unprivileged, ...app, credential: true, uidmap: [{ container: 0, host: 0, size: 1 }] }));
    expect(e.message).toBe('"uidmap" field has an entry for host uid 0 but unprivileged unit can only map itself (uid 1000) into child namespaces.');
    const g = error(() => validateIdMaps({ ...unprivileged, ...app, credential: true, gidmap: [{ container: 1000, host: 0, size: 1 }] }));
    expect(g.message).toBe('"gidmap" field has an entry for host gid 0 but unprivileged unit can only map itself (gid 1000) into child namespaces.');
  });

  it('unprivileged: size 1', () => {
    const e = error(() => validateIdMaps({ ...unprivileged, ...app, credential: true, gidmap: [{ container: 1000, host: 1000, size: 2 }] }));
    expect(e.message).toBe('"gidmap" field has an entry with "size": 2, but for unprivileged unit it must be 1.');
    const u = error(() => validateIdMaps({ ...unprivileged, ...app, credential: true, uidmap: [{ container: 0, host: 1000, size: 3 }] }));
    expect(u.message).toBe('"uidmap" field has an entry with "size": 3, but for unprivileged unit it must be 1.');
  });

  it('unprivileged: the gid entry must map the app gid', () => {
    const e = error(() => validateIdMaps({ ...unprivileged, ...app, credential: true, gidmap: [{ container: 0, host: 1000, size: 1 }] }));
    expect(e.message).toBe('"gidmap" field has no "container" entry for gid 1000.');
  });

  it('unprivileged: the uid entry must map the app uid', () => {
    const e = error(() => validateIdMaps({ ...unprivileged, ...app, credential: true, uidmap: [{ container: 0, host: 1000, size: 1 }] }));
    expect(e.message).toBe('"uidmap" field has no "container" entry for user "app" (uid 1000).');
  });

  it('unprivileged: no supplementary groups', () => {
    const e = error(() => validateIdMaps({ ...unprivileged, ...app, groups: [1000, 27], credential: true }));
    expect(e.message).toBe('unprivileged unit disallow supplementary groups for new namespace (user "app" has 2 groups).');
  });

  it('unprivileged: accepts its own id as root inside', () => {
    const map = [{ container: 0, host: 1000, size: 1 }];
    expect(() => validateIdMaps({ ...unprivileged, user: 'root', uid: 0, gid: 0, groups: [0], credential: true, uidmap: map, gidmap: map })).not.toThrow();
  });
});

describe('resolveIdMaps (defaults)', () => {
  it('maps the app ids to themselves when privileged', () => {
    expect(resolveIdMaps({ uidmap: [], gidmap: [] }, { ...privileged, uid: 33, gid: 44 })).toEqual({
      uidmap: [{ container: 33, host: 33, size: 1 }],
      gidmap: [{ container: 44, host: 44, size: 1 }],
    });
  });

  it("maps the app ids to the daemon's euid/egid when unprivileged", () => {
    expect(resolveIdMaps({ uidmap: [], gidmap: [] }, { daemonUid: 1000, daemonGid: 1001, uid: 0, gid: 0 })).toEqual({
      uidmap: [{ container: 0, host: 1000, size: 1 }],
      gidmap: [{ container: 0, host: 1001, size: 1 }],
    });
  });

  it('keeps given maps', () => {
    const map = [{ container: 0, host: 1000, size: 10 }];
    expect(resolveIdMaps({ uidmap: map, gidmap: [] }, { ...privileged, uid: 0, gid: 0 }).uidmap).toBe(map);
  });
});

describe('formatIdMap and writeIdMaps', () => {
  it('formats one "container host size" line per entry', () => {
    expect(
      formatIdMap([
        { container: 0, host: 1000, size: 1000 },
        { container: 5000, host: 9000, size: 1 },
      ]),
    ).toBe('0 1000 1000\n5000 9000 1\n');
  });

  it('writes uid_map, then setgroups=deny (unprivileged), then gid_map', async () => {
    const proc = mkdtempSync(path.join(tmpdir(), 'idmap-'));
    mkdirSync(path.join(proc, '42'));
    for (const f of ['uid_map', 'setgroups', 'gid_map']) writeFileSync(path.join(proc, '42', f), '');
    const maps = { uidmap: [{ container: 0, host: 1000, size: 1 }], gidmap: [{ container: 0, host: 1000, size: 1 }], denySetgroups: true, procRoot: proc };
    await writeIdMaps(42, maps);
    expect(readFileSync(path.join(proc, '42', 'uid_map'), 'utf8')).toBe('0 1000 1\n');
    expect(readFileSync(path.join(proc, '42', 'setgroups'), 'utf8')).toBe('deny');
    expect(readFileSync(path.join(proc, '42', 'gid_map'), 'utf8')).toBe('0 1000 1\n');
    // The order: when setgroups cannot be written, uid_map was written before it and gid_map is not written at all.
    for (const f of ['uid_map', 'setgroups', 'gid_map']) rmSync(path.join(proc, '42', f), { recursive: true });
    writeFileSync(path.join(proc, '42', 'uid_map'), '');
    mkdirSync(path.join(proc, '42', 'setgroups'));
    writeFileSync(path.join(proc, '42', 'gid_map'), '');
    await expect(writeIdMaps(42, maps)).rejects.toThrow(/setgroups failed: EISDIR/);
    expect(readFileSync(path.join(proc, '42', 'uid_map'), 'utf8')).toBe('0 1000 1\n');
    expect(readFileSync(path.join(proc, '42', 'gid_map'), 'utf8')).toBe('');
    rmSync(proc, { recursive: true });
  });

  it('does not touch setgroups when privileged', async () => {
    const proc = mkdtempSync(path.join(tmpdir(), 'idmap-'));
    mkdirSync(path.join(proc, '7'));
    await writeIdMaps(7, { uidmap: [{ container: 0, host: 0, size: 1 }], gidmap: [], denySetgroups: false, procRoot: proc });
    expect(existsSync(path.join(proc, '7', 'setgroups'))).toBe(false);
    rmSync(proc, { recursive: true });
  });

  it('names the file and errno when the kernel refuses a write', async () => {
    const err = await writeIdMaps(999999999, { uidmap: [{ container: 0, host: 0, size: 1 }], gidmap: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(IdMapError);
    expect(err.code).toBe('WARDEN_ERR_IDMAP_WRITE');
    expect(err.message).toContain('/proc/999999999/uid_map');
    expect(err.errno).toBe(2);
  });
});
