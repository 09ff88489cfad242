import { readFileSync } from 'fs';
import type { Credentials, PlanContext } from '../contracts';
import { ConfigValidationError } from '../contracts';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The host's user database (`/etc/passwd`, `/etc/group`), parsed once per call to {@link resolveCredentials}. */
export interface UserDatabase {
  passwd: PasswdEntry[];
  groups: GroupEntry[];
}

/** Reads the host's user database. `root` lets tests use a fake `/etc`. */
export function readUserDatabase(root = '/etc'): UserDatabase {
  const passwd = readLines(`${root}/passwd`).map((line) => {
    const f = line.split(':');
    return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
  });
  const groups = readLines(`${root}/group`).map((line) => {
    const f = line.split(':');
    return { name: f[0], gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] };
  });
  return { passwd, groups };
}

function readLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l && !l.startsWith('#') && l.split(':').length >= 4);
}

/**
 * Resolves an app's `user` and `group` the way Unit does: names (or numeric ids) are looked up in the host's user
 * database; the group defaults to the user's primary group; supplementary groups come from the group file. With a
 * credential namespace the resulting ids are the ids inside it (`"user": "root"` is uid 0 inside).
 */
export function resolveCredentials(user: string, group: string | undefined, db = readUserDatabase()): Credentials {
  const pw = /^\d+$/.test(user)
    ? db.passwd.find((p) => p.uid === Number(user)) ?? { name: user, uid: Number(user), gid: Number(user), home: '/' }
    : db.passwd.find((p) => p.name === user);
  if (!pw) {
    throw new ConfigValidationError(`User "${user}" is not found.`, undefined, 'WARDEN_ERR_CREDENTIALS_USER');
  }
  let gid = pw.gid;
  let groupName = db.groups.find((g) => g.gid === pw.gid)?.name ?? String(pw.gid);
  if (group !== undefined) {
    const gr = /^\d+$/.test(group)
      ? db.groups.find((g) => g.gid === Number(group)) ?? { name: group, gid: Number(group), members: [] }
      : db.groups.find((g) => g.name === group);
    if (!gr) {
      throw new ConfigValidationError(`Group "${group}" is not found.`, undefined, 'WARDEN_ERR_CREDENTIALS_GROUP');
    }
    gid = gr.gid;
    groupName = gr.name;
  }
  const groups = new Set<number>([gid]);
  for (const g of db.groups) if (g.members.includes(pw.name)) groups.add(g.gid);
  return { user: pw.name, uid: pw.uid, group: groupName, gid, groups: [...groups], home: pw.home };
}

/** Unit's default app user/group: the daemon's own when unprivileged; `nobody` and its group when root. */
export function defaultAppUser(db = readUserDatabase()): { user: string; group: string } {
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    const me = db.passwd.find((p) => p.uid === uid);
    const gid = process.getegid?.() ?? 0;
    return { user: me?.name ?? String(uid), group: db.groups.find((g) => g.gid === gid)?.name ?? String(gid) };
  }
  const nobody = db.passwd.find((p) => p.name === 'nobody');
  const group = nobody ? db.groups.find((g) => g.gid === nobody.gid)?.name ?? String(nobody.gid) : 'nogroup';
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
