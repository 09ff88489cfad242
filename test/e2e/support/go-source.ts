import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ROOT, goBuild } from './wardend';

/**
 * Builds a one-file Go app, `main.go` = `source`, against this repository's Warden Go package
 * (`import "warden.dev/warden"`), into `<dir>/<name>`; its sources go to `<dir>/<name>-src`. Returns the binary's path.
 */
export function goBuildSource(dir: string, name: string, source: string): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(src);
  writeFileSync(join(src, 'main.go'), source);
  const warden = join(ROOT, 'packages/app-types/go');
  writeFileSync(
    join(src, 'go.mod'),
    `module warden.dev/test/${name}\n\ngo 1.19\n\nrequire warden.dev/warden v0.0.0\n\nreplace warden.dev/warden => ${warden}\n`,
  );
  return goBuild(src, join(dir, name));
}
