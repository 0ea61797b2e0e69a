# One image for every tskube component; the command picks it: `apiserver`, `ktl`, `health-probe`, …
#
# NODE_IMAGE defaults to the public Node image. Without a registry, `pnpm images:offline` builds a
# local stand-in and sets NODE_IMAGE and TSKUBE_BUNDLE=host in .env (compose passes both).
# TSKUBE_BUNDLE=container installs and bundles inside the build (needs the npm registry);
# TSKUBE_BUNDLE=host copies dist/image as bundled on the host (`pnpm bundle:image`), needing no network.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS bundle
ARG TSKUBE_BUNDLE=container
WORKDIR /src
COPY . .
RUN if [ "$TSKUBE_BUNDLE" = host ]; then \
      test -f dist/image/tskube.mjs || { echo "dist/image is missing: run 'pnpm images:offline' or 'pnpm bundle:image' first" >&2; exit 1; }; \
    else \
      npm install -g pnpm@10 && pnpm install --frozen-lockfile && pnpm bundle:image; \
    fi

FROM ${NODE_IMAGE}
# kube-proxy's iptables mode in a node's network namespace needs iptables. The public Node image gets
# Debian's package; the offline base (`pnpm images:offline`) carries the host's, so this is a no-op
# there and needs no network.
RUN if ! command -v iptables-restore >/dev/null || ! command -v iptables-legacy >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /opt/tskube
COPY --from=bundle /src/dist/image/ /opt/tskube/
ENV NODE_ENV=production \
    TSKUBE_PROTO_ROOT=/opt/tskube/proto \
    NODE_OPTIONS=--enable-source-maps
ENTRYPOINT ["node", "/opt/tskube/tskube.mjs"]
CMD ["--help"]
