// Apps inherit wardend's environment, with their `environment` over it, as Unit's apps inherit unitd's (its prototype
// setenv()s the configured values into its own environ and execs the app with it): for every app type, with or
// without isolation and rootfs.
import { copyFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { goBuildSource } from './support/go-source';
import { cleanup, freePort, haveGo, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

// Prints its environment as a JSON object.
const NODE_APP = `require('http').createServer((req, res) => res.end(JSON.stringify(process.env))).listen(8080);\n`;
const GO_APP = `package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"

	"warden.dev/warden"
)

func main() {
	warden.ListenAndServe(":8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			if i := strings.IndexByte(kv, '='); i > 0 {
				env[kv[:i]] = kv[i+1:]
			}
		}
		json.NewEncoder(w).Encode(env)
	}))
}
`;

describe("an app's environment", () => {
  let dir: string;
  let w: Wardend;
  let goBin: string | undefined;

  beforeAll(async () => {
    dir = worldDir('warden-app-env-');
    writeFileSync(join(dir, 'app.js'), NODE_APP);
    if (haveGo()) {
      goBin = goBuildSource(dir, 'env-app', GO_APP);
    } else {
      console.warn('the Go cases are skipped: go is not installed');
    }
    // What a container's `docker run -e` or a systemd unit's Environment= gives the server.
    process.env.WARDEN_E2E_FROM_SERVER = 'from-wardend';
    process.env.WARDEN_E2E_OVERRIDDEN = 'from-wardend';
    try {
      w = await startWardend([], dir);
    } finally {
      delete process.env.WARDEN_E2E_FROM_SERVER;
      delete process.env.WARDEN_E2E_OVERRIDDEN;
    }
  }, 120000);
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  async function envOf(name: string, app: Record<string, unknown>): Promise<Record<string, string>> {
    const port = await freePort();
    const put = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: `applications/${name}` } },
      applications: { [name]: { ...app, environment: { WARDEN_E2E_OVERRIDDEN: 'from-config', APP_ONLY: name } } },
    });
    expect(put.status).toBe(200);
    const res = await http(port, '/');
    expect(res.status).toBe(200);
    return JSON.parse(res.body.toString()) as Record<string, string>;
  }

  function expectInherited(env: Record<string, string>, name: string): void {
    expect(env.WARDEN_E2E_FROM_SERVER).toBe('from-wardend');
    expect(env.WARDEN_E2E_OVERRIDDEN).toBe('from-config');
    expect(env.APP_ONLY).toBe(name);
    expect(env.PATH).toBe(process.env.PATH);
  }

  it("is wardend's environment with the configured environment over it: a Node app", async () => {
    expectInherited(await envOf('node', { type: 'node', working_directory: dir, script: 'app.js' }), 'node');
  });

  it("is wardend's environment with the configured environment over it: a Go app (external)", async () => {
    if (!goBin) return;
    const env = await envOf('go', { type: 'external', executable: goBin });
    expectInherited(env, 'go');
    expect(env.WARDEN_CHANNEL).toBe('v1:fds=3,4');
  });

  it('is the same for an isolated app in a rootfs', async () => {
    if (!goBin || !isRoot) {
      console.warn(`skipped: ${goBin ? 'a rootfs needs root' : 'go is not installed'}`);
      return;
    }
    const rootfs = worldDir('warden-app-env-rootfs-');
    try {
      copyFileSync(goBin, join(rootfs, 'env-app'));
      const env = await envOf('rootfs', {
        type: 'external',
        executable: '/env-app',
        working_directory: '/',
        isolation: { rootfs, namespaces: { mount: true, pid: true } },
      });
      expectInherited(env, 'rootfs');
    } finally {
      await w.control('PUT', '/config', {});
      cleanup(rootfs);
    }
  });
});
