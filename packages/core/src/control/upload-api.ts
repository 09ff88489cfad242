import type { WardenConfig } from '../contracts';
import type { Controller } from './controller';
import { splitPath } from './config-path';
import { ControlError, errorBody, invalidPath, notFound } from './control-error';
import type { ControlResponse } from './control-error';
import { validStoreName } from './named-store';

/** One section of named uploads (`/certificates`, `/js_modules`): its store, its words and its codes. */
export interface UploadSection {
  /** The path segment (`certificates`). */
  section: string;
  /** The noun of Unit's answers (`Certificate`: `Certificate doesn't exist.`, `Invalid certificate name.`, ...). */
  noun: string;
  store:
    | {
        has(name: string): boolean;
        info(): unknown;
        add(name: string, body: Buffer): void;
        remove(name: string): boolean;
      }
    | undefined;
  /** GET of a stored item (`rest`: the path segments after its name); throws ControlError for a bad one. */
  read(name: string, rest: string[]): unknown;
  /** The success title of an upload (`Certificate chain uploaded.`). */
  uploaded: string;
  /** An upload the store refused as unusable: the title of the answer (`Invalid certificate.`), or undefined. */
  unusable(e: unknown): string | undefined;
  /** Where `config` uses the item (the detail of the refused deletion), or undefined. */
  usedAt(config: WardenConfig, name: string): string | undefined;
  /** The codes of the details, one per refusal. */
  codes: { name: string; exists: string; invalid: string; inUse: string; store: string };
}

const fail = (status: number, error: string, detail?: string) => new ControlError({ status, body: errorBody(error, detail) });

/**
 * A section of named uploads as Unit answers it: `GET /<section>[/<name>[/path...]]`, `PUT /<section>/<name>` with
 * the item (a second upload of a name is refused: delete it first), `DELETE /<section>/<name>` (refused while the
 * config uses it). Names are any case. Uploads and deletions run under the controller's change lock, so a deletion
 * never races a config change that starts using the item. `rest` is the URL path after `/<section>`.
 */
export async function handleUploads(s: UploadSection, controller: Controller, method: string, rest: string, body: Buffer): Promise<ControlResponse> {
  const store = s.store;
  if (store === undefined) throw notFound();
  const segs = splitPath(rest);
  const name = segs?.[0];
  const lower = s.noun.toLowerCase();
  if (method === 'GET') {
    if (segs === undefined) throw invalidPath();
    if (name === undefined) return { status: 200, body: store.info() };
    if (!store.has(name)) throw fail(404, `${s.noun} doesn't exist.`);
    return { status: 200, body: s.read(name, segs.slice(1)) };
  }
  if (segs === undefined || name === undefined || segs.length > 1 || !validStoreName(name)) {
    throw fail(400, `Invalid ${lower} name.`, `${s.codes.name}: use /${s.section}/<name>, a name without "/" that is not "." or "..".`);
  }
  switch (method) {
    case 'PUT':
      return controller.exclusive(() => {
        if (store.has(name)) {
          throw fail(400, `${s.noun} already exists.`, `${s.codes.exists}: "${name}" is stored already; delete it first or upload under a new name.`);
        }
        try {
          store.add(name, body);
        } catch (e) {
          const title = s.unusable(e);
          if (title !== undefined) throw fail(400, title, `${s.codes.invalid}: ${(e as Error).message}`);
          throw fail(500, `Failed to store ${lower}.`, `${s.codes.store}: ${(e as Error).message}`);
        }
        return { status: 200, body: { success: s.uploaded } };
      });
    case 'DELETE':
      return controller.exclusive(() => {
        const where = s.usedAt(controller.config, name);
        if (where !== undefined) throw fail(400, `${s.noun} is used in the configuration.`, `${s.codes.inUse}: ${where}`);
        try {
          if (!store.remove(name)) throw fail(404, `${s.noun} doesn't exist.`);
        } catch (e) {
          if (e instanceof ControlError) throw e;
          throw fail(500, `Failed to delete ${lower}.`, `${s.codes.store}: ${(e as Error).message}`);
        }
        return { status: 200, body: { success: `${s.noun} deleted.` } };
      });
    default:
      throw fail(405, 'Invalid method.');
  }
}
