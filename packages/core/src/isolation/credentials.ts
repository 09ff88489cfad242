import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { hostUserDatabase } from '@warden/shm-transport';
import type { HostGroup, HostUser, HostUserDatabase } from '@warden/shm-transport';
import type { Credentials, PlanContext } from '../contracts';
import { ConfigValidationError } from '../contracts';

/** One user, as getpwnam(3) gives it. */
export type PasswdEntry = HostUser;
/** One group, as getgrnam(3) gives it. */
export type GroupEntry = HostGroup;

/**
 * The host's user database, looked up one key at a time as Unit does with getpwnam/getgrnam/getgrouplist, so that
 * users and groups from every NSS source (files, LDAP, sssd, systemd) are found, not only `/etc/passwd`: `user(key)`,
 * `group(key)` (a key of digits is an id) and `groupsOf(user, gid)` (getgrouplist).
 */
export type UserDatabase = HostUserDatabase;

/**
 * The host's user database through NSS, asked in this process as Unit asks it (getpwnam, getgrnam, getgrouplist:
 * @warden/shm-transport's hostUserDatabase), so that every source nsswitch.conf names answers and no lookup starts a
 * process. Only with a native addon that predates those calls does it fall back to {@link getentUserDatabase}.
 */
export function readUserDatabase(): UserDatabase {
  if (hostDatabase === undefined) {
    try {
      const host = hostUserDatabase();
      // An empty home directory is `/`, as in the getent and file databases.
      hostDatabase = host ? { ...host, user: (key) => withHome(host.user(key)) } : null;
    } catch {
      hostDatabase = null; // no native addon at all (core used for validation alone): getent
    }
  }
  return hostDatabase ?? getentUserDatabase();
}

let hostDatabase: UserDatabase | null | undefined;

const withHome = (u: PasswdEntry | undefined): PasswdEntry | undefined => (u && !u.home ? { ...u, home: '/' } : u);

/**
 * The host's user database through `getent` (found on `env.PATH`), which asks every source nsswitch.conf names.
 * Only when there is no `getent` (a minimal container) does it fall back to parsing `/etc/passwd` and `/etc/group`,
 * which misses NSS-only users. Answers are reused for a while (FOUND_TTL_MS, MISSING_TTL_MS).
 */
export function getentUserDatabase(env: NodeJS.ProcessEnv = process.env): UserDatabase {
  const path = env.PATH ?? '';
  let found = haveGetent.get(path);
  if (found === undefined) haveGetent.set(path, (found = getent(env, ['passwd', '0']) !== 'missing'));
  if (!found) return fileUserDatabase();
  let db = nssDatabases.get(path);
  if (db === undefined) nssDatabases.set(path, (db = nssUserDatabase(env)));
  return db;
}

/** The NSS view of each PATH's getent, shared by every validation and spawn (see {@link nssUserDatabase}). */
const nssDatabases = new Map<string, UserDatabase>();

/**
 * How long a getent answer is reused. getent is a process per lookup (about 10 ms, and it blocks: spawnSync), so
 * one apply must not run it for every app: an entry found is reused for a minute (nscd keeps passwd entries for ten),
 * a name not found for a second, so a user added to LDAP is usable at once.
 */
const FOUND_TTL_MS = 60_000;
const MISSING_TTL_MS = 1_000;

/** Whether a `getent` is on this PATH (probed once per PATH). */
const haveGetent = new Map<string, boolean>();

/** Runs `getent ARGS`: its output, `undefined` when the key is not found, `'missing'` when there is no getent. */
function getent(env: NodeJS.ProcessEnv, args: string[]): string | undefined | 'missing' {
  const r = spawnSync('getent', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'missing';
  return r.status === 0 ? r.stdout : undefined;
}

function nssUserDatabase(env: NodeJS.ProcessEnv): UserDatabase {
  const cache = new Map<string, { out: string | undefined; at: number }>();
  const lookup = (args: string[]) => {
    const key = args.join('\0');
    const now = Date.now();
    const hit = cache.get(key);
    if (hit !== undefined && now - hit.at < (hit.out === undefined ? MISSING_TTL_MS : FOUND_TTL_MS)) return hit.out;
    const out = getent(env, args);
    const entry = { out: out === 'missing' ? undefined : out, at: now };
    cache.set(key, entry);
    return entry.out;
  };
  return {
    user: (key) => parsePasswd(lookup(['passwd', key]) ?? '')[0],
    group: (key) => parseGroups(lookup(['group', key]) ?? '')[0],
    groupsOf(user, gid) {
      // `getent initgroups` (glibc) prints getgrouplist without a base group; without it, every group listing the user.
      const line = lookup(['initgroups', user]);
      const listed =
        line !== undefined
          ? line.trim().split(/\s+/).slice(1).map(Number)
          : parseGroups(lookup(['group']) ?? '')
              .filter((g) => g.members.includes(user))
              .map((g) => g.gid);
      return [...new Set([gid, ...listed.filter((n) => Number.isInteger(n))])];
    },
  };
}

/** The fallback without `getent`: `<root>/passwd` and `<root>/group` parsed (NSS-only users are not found). */
export function fileUserDatabase(root = '/etc'): UserDatabase {
  const passwd = parsePasswd(readText(`${root}/passwd`));
  const groups = parseGroups(readText(`${root}/group`));
  const byKey =
    <T extends { name: string }>(list: T[], id: (e: T) => number) =>
    (key: string) =>
      /^\d+$/.test(key) ? list.find((e) => id(e) === Number(key)) : list.find((e) => e.name === key);
  return {
    user: byKey(passwd, (p) => p.uid),
    group: byKey(groups, (g) => g.gid),
    groupsOf: (user, gid) => [...new Set([gid, ...groups.filter((g) => g.members.includes(user)).map((g) => g.gid)])],
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function records(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4);
}

function parsePasswd(text: string): PasswdEntry[] {
  return records(text).map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }));
}

function parseGroups(text: string): GroupEntry[] {
  return records(text).map((f) => ({ name: f[0], gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] }));
}

/**
 * Resolves an app's `user` and `group` the way Unit does: names (or numeric ids) are looked up in the host's user
 * database (NSS, see {@link readUserDatabase}); the group defaults to the user's primary group; supplementary groups
 * are getgrouplist's. With a credential namespace the resulting ids are the ids inside it (`"user": "root"` is uid 0
 * inside).
 */
export function resolveCredentials(user: string, group: string | undefined, db = readUserDatabase()): Credentials {
  const numeric = (key: string) => /^\d+$/.test(key);
  const pw = db.user(user) ?? (numeric(user) ? { name: user, uid: Number(user), gid: Number(user), home: '/' } : undefined);
  if (!pw) {
    throw new ConfigValidationError(`User "${user}" is not found.`, undefined, 'WARDEN_ERR_CREDENTIALS_USER');
  }
  let gid = pw.gid;
  let groupName = db.group(String(pw.gid))?.name ?? String(pw.gid);
  if (group !== undefined) {
    const gr = db.group(group) ?? (numeric(group) ? { name: group, gid: Number(group), members: [] } : undefined);
    if (!gr) {
      throw new ConfigValidationError(`Group "${group}" is not found.`, undefined, 'WARDEN_ERR_CREDENTIALS_GROUP');
    }
    gid = gr.gid;
    groupName = gr.name;
  }
  return { user: pw.name, uid: pw.uid, group: groupName, gid, groups: db.groupsOf(pw.name, gid), home: pw.home };
}

/** Unit's default app user/group: the daemon's own when unprivileged; `nobody` and its group when root. */
export function defaultAppUser(db = readUserDatabase()): { user: string; group: string } {
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    const gid = process.getegid?.() ?? 0;
    return { user: db.user(String(uid))?.name ?? String(uid), group: db.group(String(gid))?.name ?? String(gid) };
  }
  const nobody = db.user('nobody');
  const group = nobody ? (db.group(String(nobody.gid))?.name ?? String(nobody.gid)) : 'nogroup';
  return { user: 'nobody', group };
}

/**
 * Refuses an identity an unprivileged wardend cannot give: without root it cannot change users, so outside a user
 * namespace of its own an app always runs as wardend's uid and gid, and a `user` (`"root"`, `"nobody"`, ...) or
 * `group` naming someone else would be silently ignored. With a user namespace (`userNamespace`) the ids are the ids
 * inside it and the id-map rules apply instead. The group is only checked when the app sets one (an app `user`
 * without `group` means that user's primary group, which an unprivileged wardend cannot give either, as in Unit).
 * `path` is the app's JSON path (`/applications/<name>`). Throws ConfigValidationError (WARDEN_ERR_CREDENTIALS_UNPRIVILEGED).
 */
export function checkUnprivilegedIdentity(ctx: PlanContext, explicitGroup: boolean, userNamespace: boolean, path: string): void {
  if (ctx.daemonUid === 0 || userNamespace) return;
  const { user, uid, group, gid } = ctx.credentials;
  const refuse = (key: string, what: string, own: string) =>
    new ConfigValidationError(
      `The "${key}" value ${what} cannot be used: wardend runs unprivileged (uid ${ctx.daemonUid}, gid ${ctx.daemonGid}) and ` +
        `cannot start an application as anyone else without a credential namespace, so it would silently run as wardend's ` +
        `own ${own}. Remove "${key}" to run the application as wardend's ${own}, or turn on ` +
        `"isolation.namespaces.credential" to run it in a user namespace of its own (with "user": "root" it is root ` +
        'only inside that namespace).',
      `${path}/${key}`,
      'WARDEN_ERR_CREDENTIALS_UNPRIVILEGED',
    );
  if (uid !== ctx.daemonUid) throw refuse('user', `"${user}" (uid ${uid})`, 'user');
  if (explicitGroup && gid !== ctx.daemonGid) throw refuse('group', `"${group}" (gid ${gid})`, 'group');
}
