import type { Controller } from './controller';
import { getAt, splitPath } from './config-path';
import { CertificateBundleError } from './certificate-bundle';
import { certificateRefs, validCertificateName } from './certificate-store';
import { ControlError, errorBody, invalidPath, notFound } from './control-error';
import type { ControlResponse } from './control-error';

const fail = (status: number, error: string, detail?: string) => new ControlError({ status, body: errorBody(error, detail) });

/**
 * Unit's `/certificates` section: `GET /certificates[/<name>[/path...]]`, `PUT /certificates/<name>` with a PEM
 * bundle, `DELETE /certificates/<name>`. `rest` is the URL path after `/certificates`. Uploads and deletions run
 * under the controller's change lock, so a deletion never races a config change that starts using the bundle.
 */
export async function handleCertificates(controller: Controller, method: string, rest: string, body: Buffer): Promise<ControlResponse> {
  const store = controller.certificates;
  if (store === undefined) throw notFound();
  const segs = splitPath(rest);
  const name = segs?.[0];
  if (method === 'GET') {
    if (segs === undefined) throw invalidPath();
    if (name === undefined) return { status: 200, body: store.info() };
    const cert = store.get(name);
    if (cert === undefined) throw fail(404, "Certificate doesn't exist.");
    const found = getAt(cert.bundle.info, segs.slice(1));
    if (!found.found) throw invalidPath();
    return { status: 200, body: found.value };
  }
  if (segs === undefined || name === undefined || segs.length > 1 || !validCertificateName(name)) {
    throw fail(400, 'Invalid certificate name.', 'WARDEN_ERR_CERTIFICATE_NAME: use /certificates/<name>, a name without "/" that is not "." or "..".');
  }
  switch (method) {
    case 'PUT':
      return controller.exclusive(() => {
        if (store.get(name) !== undefined) {
          throw fail(
            400,
            'Certificate already exists.',
            `WARDEN_ERR_CERTIFICATE_EXISTS: "${name}" is stored already; delete it first or upload under a new name.`,
          );
        }
        try {
          store.add(name, body);
        } catch (e) {
          if (e instanceof CertificateBundleError) throw fail(400, 'Invalid certificate.', `WARDEN_ERR_CERTIFICATE_INVALID: ${e.message}`);
          throw fail(500, 'Failed to store certificate.', `WARDEN_ERR_CERTIFICATE_STORE: ${(e as Error).message}`);
        }
        return { status: 200, body: { success: 'Certificate chain uploaded.' } };
      });
    case 'DELETE':
      return controller.exclusive(() => {
        const user = certificateRefs(controller.config).find((r) => r.name.toLowerCase() === name.toLowerCase());
        if (user !== undefined) {
          throw fail(400, 'Certificate is used in the configuration.', `WARDEN_ERR_CERTIFICATE_IN_USE: listener "${user.listener}" uses it at ${user.path}.`);
        }
        try {
          if (!store.remove(name)) throw fail(404, "Certificate doesn't exist.");
        } catch (e) {
          if (e instanceof ControlError) throw e;
          throw fail(500, 'Failed to delete certificate.', `WARDEN_ERR_CERTIFICATE_STORE: ${(e as Error).message}`);
        }
        return { status: 200, body: { success: 'Certificate deleted.' } };
      });
    default:
      throw fail(405, 'Invalid method.');
  }
}
