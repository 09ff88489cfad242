# Warden in a container: wardend in the foreground under tini (PID 1 reaps what apps orphan and forwards signals),
# config from a mounted file (/etc/warden/config.json, used when the state volume has none) or the control API,
# state on a volume. See docs/deploy.md for the capabilities isolation needs and the rootless variant.
#
#   docker build -t warden .
#   docker run --rm -p 8080:8080 --cap-add SYS_ADMIN --cap-add NET_ADMIN \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined warden
#
# The base images are arguments, so the image also builds from local images made from Debian packages (docs/deploy.md).
ARG NODE_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# make, a C/C++ compiler and python3: the native parts (spawn helper, addons) are built from source here.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make gcc g++ python3 \
    && rm -rf /var/lib/apt/lists/* \
    && echo "nodedir=$(dirname "$(dirname "$(command -v node)")")" >> /root/.npmrc
# (nodedir: node-gyp uses the headers of the image's node instead of downloading them)
WORKDIR /src
COPY . .
# Built, packed and installed the way a user installs it: from the npm pack tarballs, production dependencies only.
RUN npm ci --no-audit --no-fund && npm run build \
    && mkdir /tarballs && npm pack --workspaces --pack-destination /tarballs --silent \
    && mkdir -p /opt/warden && cd /opt/warden \
    && node -e 'const fs = require("fs"); const deps = {}; \
         for (const f of fs.readdirSync("/tarballs")) deps["@warden/" + f.replace(/^warden-(.*)-\d+\.\d+\.\d+\.tgz$/, "$1")] = "file:/tarballs/" + f; \
         fs.writeFileSync("package.json", JSON.stringify({ name: "warden-install", private: true, dependencies: deps }, null, 2));' \
    && npm install --omit=dev --ignore-scripts --no-audit --no-fund \
    && test -x node_modules/.bin/wardend

FROM ${RUNTIME_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /etc/warden /var/lib/warden /run/warden /srv/hello \
    && chown 10001:10001 /var/lib/warden /run/warden
# (owned by the rootless variant's user, 10001: a volume mounted there inherits it; root writes there anyway)
COPY --from=build /opt/warden /opt/warden
COPY deploy/example/config.json /etc/warden/config.json
COPY deploy/example/app.js /srv/hello/app.js
ENV PATH=/opt/warden/node_modules/.bin:$PATH \
    WARDEN_CONTROL=unix:/run/warden/control.sock
VOLUME /var/lib/warden
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "wardend", "--no-daemon", "--control", "unix:/run/warden/control.sock", "--statedir", "/var/lib/warden"]
CMD ["--config", "/etc/warden/config.json"]
