import { containerIdCovered, IdMapEntry, IdMapError, parseIdMap } from './id-map';

/** Everything the validation rules look at. Ids of the app are the ids inside the namespace. */
export interface IdMapValidationInput {
  /** Raw `isolation.uidmap` / `isolation.gidmap` values (undefined when absent). */
  uidmap?: unknown;
  gidmap?: unknown;
  /** Whether `isolation.namespaces.credential` is true. */
  credential: boolean;
  /** The daemon's effective uid/gid (privileged = uid 0). */
  daemonUid: number;
  daemonGid: number;
  /** The app's user name, uid, primary gid and all its groups (including the primary one). */
  user: string;
  uid: number;
  gid: number;
  groups: readonly number[];
}

/** The maps after validation (empty arrays when none were given). */
export interface ValidatedIdMaps {
  uidmap: IdMapEntry[];
  gidmap: IdMapEntry[];
}

/**
 * Applies Unit's rules: maps only with `credential: true`; an unprivileged daemon may map only its own euid/egid,
 * one entry, gid size 1, and the app may have no supplementary groups; a privileged daemon must cover the app's
 * uid, gid and supplementary gids. Throws {@link IdMapError} with Unit's message.
 */
export function validateIdMaps(input: IdMapValidationInput): ValidatedIdMaps {
  const uidmap = input.uidmap === undefined ? [] : parseIdMap(input.uidmap, 'uidmap');
  const gidmap = input.gidmap === undefined ? [] : parseIdMap(input.gidmap, 'gidmap');
  if (!input.credential) {
    for (const field of ['uidmap', 'gidmap'] as const) {
      if (input[field] !== undefined) {
        throw new IdMapError('WARDEN_ERR_IDMAP_NO_CREDENTIAL', `"${field}" is set but "isolation.namespaces.credential" is false or unset.`, field);
      }
    }
    return { uidmap, gidmap };
  }
  const privileged = input.daemonUid === 0;
  const extraGroups = input.groups.filter((g) => g !== input.gid);
  if (!privileged) {
    if (uidmap.length > 1) {
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_UNPRIVILEGED',
        `"uidmap" field has ${uidmap.length} entries but unprivileged unit has a maximum of 1 map.`,
        'uidmap',
      );
    }
    if (uidmap.length === 1 && uidmap[0].host !== input.daemonUid) {
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_UNPRIVILEGED',
        `"uidmap" field has an entry for host uid ${uidmap[0].host} but unprivileged unit can only map itself ` +
          `(uid ${input.daemonUid}) into child namespaces.`,
        'uidmap/0/host',
      );
    }
    if (uidmap.length === 1 && uidmap[0].size !== 1) {
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_UNPRIVILEGED',
        `"uidmap" field has an entry with "size": ${uidmap[0].size}, but for unprivileged unit it must be 1.`,
        'uidmap/0/size',
      );
    }
    if (uidmap.length === 1 && uidmap[0].container !== input.uid) {
      // Not in Unit (the kernel would refuse setuid later with EINVAL); same wording as the privileged rule.
      throw new IdMapError('WARDEN_ERR_IDMAP_NOT_COVERED', `"uidmap" field has no "container" entry for user "${input.user}" (uid ${input.uid}).`, 'uidmap');
    }
    if (extraGroups.length > 0) {
      const n = input.groups.length;
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_UNPRIVILEGED',
        `unprivileged unit disallow supplementary groups for new namespace (user "${input.user}" has ${n} ` + `group${n > 1 ? 's' : ''}).`,
        'gidmap',
      );
    }
    if (gidmap.length > 1) {
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_UNPRIVILEGED',
        `"gidmap" field has ${gidmap.length} entries but unprivileged unit has a maximum of 1 map.`,
        'gidmap',
      );
    }
    if (gidmap.length === 1) {
      const m = gidmap[0];
      if (m.host !== input.daemonGid) {
        throw new IdMapError(
          'WARDEN_ERR_IDMAP_UNPRIVILEGED',
          `"gidmap" field has an entry for host gid ${m.host} but unprivileged unit can only map itself ` + `(gid ${input.daemonGid}) into child namespaces.`,
          'gidmap/0/host',
        );
      }
      if (m.size > 1) {
        throw new IdMapError(
          'WARDEN_ERR_IDMAP_UNPRIVILEGED',
          `"gidmap" field has an entry with "size": ${m.size}, but for unprivileged unit it must be 1.`,
          'gidmap/0/size',
        );
      }
      if (m.container !== input.gid) {
        throw new IdMapError('WARDEN_ERR_IDMAP_NOT_COVERED', `"gidmap" field has no "container" entry for gid ${input.gid}.`, 'gidmap');
      }
    }
    return { uidmap, gidmap };
  }
  if (uidmap.length > 0 && !containerIdCovered(uidmap, input.uid)) {
    throw new IdMapError('WARDEN_ERR_IDMAP_NOT_COVERED', `"uidmap" field has no "container" entry for user "${input.user}" (uid ${input.uid}).`, 'uidmap');
  }
  if (gidmap.length === 0) {
    if (extraGroups.length > 0) {
      const n = input.groups.length;
      throw new IdMapError(
        'WARDEN_ERR_IDMAP_NOT_COVERED',
        `"gidmap" field has no entries but user "${input.user}" has ${n} suplementary group${n > 1 ? 's' : ''}.`,
        'gidmap',
      );
    }
    return { uidmap, gidmap };
  }
  if (!containerIdCovered(gidmap, input.gid)) {
    throw new IdMapError('WARDEN_ERR_IDMAP_NOT_COVERED', `"gidmap" field has no "container" entry for gid ${input.gid}.`, 'gidmap');
  }
  const found = input.groups.filter((g) => containerIdCovered(gidmap, g)).length;
  if (found < input.groups.length) {
    throw new IdMapError(
      'WARDEN_ERR_IDMAP_NOT_COVERED',
      `"gidmap" field has missing suplementary gid mappings (found ${found} out of ${input.groups.length}).`,
      'gidmap',
    );
  }
  return { uidmap, gidmap };
}

/**
 * The maps to write: the given ones, or Unit's default when a map is empty — the app's id mapped to itself when the
 * daemon is privileged, to the daemon's euid/egid when it is not.
 */
export function resolveIdMaps(maps: ValidatedIdMaps, input: Pick<IdMapValidationInput, 'daemonUid' | 'daemonGid' | 'uid' | 'gid'>): ValidatedIdMaps {
  const privileged = input.daemonUid === 0;
  const uidmap = maps.uidmap.length ? maps.uidmap : [{ container: input.uid, host: privileged ? input.uid : input.daemonUid, size: 1 }];
  const gidmap = maps.gidmap.length ? maps.gidmap : [{ container: input.gid, host: privileged ? input.gid : input.daemonGid, size: 1 }];
  return { uidmap, gidmap };
}
