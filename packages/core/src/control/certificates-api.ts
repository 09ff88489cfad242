import type { Controller } from './controller';
import { getAt } from './config-path';
import { CertificateBundleError } from './certificate-bundle';
import { certificateRefs } from './certificate-store';
import { invalidPath } from './control-error';
import type { ControlResponse } from './control-error';
import { handleUploads } from './upload-api';

/**
 * Unit's `/certificates` section: `GET /certificates[/<name>[/path...]]`, `PUT /certificates/<name>` with a PEM
 * bundle, `DELETE /certificates/<name>` (see handleUploads). `rest` is the URL path after `/certificates`.
 */
export async function handleCertificates(controller: Controller, method: string, rest: string, body: Buffer): Promise<ControlResponse> {
  const store = controller.certificates;
  return handleUploads(
    {
      section: 'certificates',
      noun: 'Certificate',
      store,
      read(name, path) {
        const found = getAt(store!.get(name)!.bundle.info, path);
        if (!found.found) throw invalidPath();
        return found.value;
      },
      uploaded: 'Certificate chain uploaded.',
      unusable: (e) => (e instanceof CertificateBundleError ? 'Invalid certificate.' : undefined),
      usedAt(config, name) {
        const user = certificateRefs(config).find((r) => r.name.toLowerCase() === name.toLowerCase());
        return user === undefined ? undefined : `listener "${user.listener}" uses it at ${user.path}.`;
      },
      codes: {
        name: 'WARDEN_ERR_CERTIFICATE_NAME',
        exists: 'WARDEN_ERR_CERTIFICATE_EXISTS',
        invalid: 'WARDEN_ERR_CERTIFICATE_INVALID',
        inUse: 'WARDEN_ERR_CERTIFICATE_IN_USE',
        store: 'WARDEN_ERR_CERTIFICATE_STORE',
      },
    },
    controller,
    method,
    rest,
    body,
  );
}
