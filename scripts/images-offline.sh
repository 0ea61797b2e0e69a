#!/usr/bin/env bash
# Builds the base images compose needs without any registry, from binaries already on this machine,
# bundles tskube on the host, and writes .env so `docker-compose up --build` uses all of it:
#   tskube/node-base:<hash>   host node + its shared libraries + busybox + iptables (stands in for
#                             node:20-bookworm-slim with Debian's iptables, which the Dockerfile installs)
#   tskube/etcd-base:<hash>   Debian's etcd/etcdctl + busybox       (stands in for quay.io/coreos/etcd)
# The tag is a hash of the inputs, so a re-run with unchanged binaries only re-bundles (seconds).
#
# Needs: docker, node, etcd + etcdctl (apt-get install etcd-server etcd-client),
#        busybox (apt-get install busybox-static), iptables (apt-get install iptables).
# Env:   NODE_BIN, ETCD_BIN, ETCDCTL_BIN, BUSYBOX_BIN override the binaries, XTABLES_DIR the iptables
#        programs' directory (/usr/sbin), XTABLES_LIBDIR their extensions'; ENV_FILE the .env path.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_BIN=${NODE_BIN:-$(command -v node || true)}
ETCD_BIN=${ETCD_BIN:-$(command -v etcd || true)}
ETCDCTL_BIN=${ETCDCTL_BIN:-$(command -v etcdctl || true)}
BUSYBOX_BIN=${BUSYBOX_BIN:-$(command -v busybox || true)}
XTABLES_DIR=${XTABLES_DIR:-/usr/sbin}
# Where Debian keeps the iptables extensions (libxt_*.so, libipt_*.so) that iptables loads by name.
XTABLES_LIBDIR=${XTABLES_LIBDIR:-$(ls -d /usr/lib/*-linux-gnu/xtables 2>/dev/null | head -1)}
ENV_FILE=${ENV_FILE:-.env}

missing=()
[ -x "$NODE_BIN" ] || missing+=("node (Node 20)")
[ -x "$ETCD_BIN" ] || missing+=("etcd (apt-get install -y etcd-server)")
[ -x "$ETCDCTL_BIN" ] || missing+=("etcdctl (apt-get install -y etcd-client)")
[ -x "$BUSYBOX_BIN" ] || missing+=("busybox (apt-get install -y busybox-static)")
[ -x "$XTABLES_DIR/xtables-nft-multi" ] && [ -x "$XTABLES_DIR/xtables-legacy-multi" ] && [ -d "$XTABLES_LIBDIR" ] ||
  missing+=("iptables (apt-get install -y iptables)")
command -v docker >/dev/null || missing+=("docker (apt-get install -y docker.io docker-compose)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'images-offline: missing %s\n' "${missing[@]}" >&2
  exit 1
fi
docker info >/dev/null 2>&1 || { echo "images-offline: docker daemon not reachable (start dockerd)" >&2; exit 1; }

log() { printf 'images-offline: %s\n' "$*"; }

# Copies a dynamically linked binary and the libraries the loader resolves for it into a rootfs,
# at the same paths, so it runs there exactly as on the host.
copy_with_libs() {
  local bin=$1 rootfs=$2 dest=$3
  install -D -m 0755 "$(readlink -f "$bin")" "$rootfs$dest"
  local lib
  for lib in $(ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' || true); do
    [ -e "$lib" ] || continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

# A minimal userland: busybox applets for debugging/`docker exec`, users, /tmp.
base_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs"/{bin,etc,tmp,root,usr/local/bin} "$rootfs/home/node"
  chmod 1777 "$rootfs/tmp"
  install -m 0755 "$BUSYBOX_BIN" "$rootfs/bin/busybox"
  local applet
  for applet in $("$BUSYBOX_BIN" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  # As in the official image; a non-root run (docker group) leaves everything root-owned instead.
  if [ "$(id -u)" = 0 ]; then chown 1000:1000 "$rootfs/home/node"; fi
}

# Tag = hash of this script and every input binary: unchanged inputs mean the image is already there.
input_hash() {
  sha256sum "$0" "$@" | sha256sum | cut -c1-12
}

build_image() {
  local repo=$1 tag=$2 fill=$3
  shift 3
  if docker image inspect "$repo:$tag" >/dev/null 2>&1; then
    log "$repo:$tag is up to date"
    return
  fi
  local rootfs owner=()
  rootfs=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$rootfs'" EXIT
  base_rootfs "$rootfs"
  "$fill" "$rootfs"
  [ "$(id -u)" = 0 ] || owner=(--owner=0 --group=0)
  log "importing $repo:$tag"
  tar -C "$rootfs" --numeric-owner "${owner[@]}" -c . | docker import "$@" - "$repo:$tag" >/dev/null
  docker tag "$repo:$tag" "$repo:latest"
  rm -rf "$rootfs"
  trap - EXIT
  # Earlier builds are superseded; an image still used by a container stays (rmi refuses).
  local old
  for old in $(docker images "$repo" --format '{{.Tag}}'); do
    [ "$old" = "$tag" ] || [ "$old" = latest ] || docker rmi "$repo:$old" >/dev/null 2>&1 || true
  done
}

fill_node() {
  # Same place as in the official node image, so Dockerfiles and healthchecks work with either.
  copy_with_libs "$NODE_BIN" "$1" /usr/local/bin/node
  fill_iptables "$1"
}

# Debian's iptables as `apt-get install iptables` lays it out, for kube-proxy's iptables mode in the
# node's network namespace: both multi-call binaries (they act on the name they are called by), their
# extensions, and `iptables`, `iptables-restore`, `iptables-save` on the nft backend, Debian's default
# (the -legacy names pick the other one).
fill_iptables() {
  local rootfs=$1 multi name
  for multi in xtables-nft-multi xtables-legacy-multi; do
    copy_with_libs "$XTABLES_DIR/$multi" "$rootfs" "/usr/sbin/$multi"
  done
  mkdir -p "$rootfs$XTABLES_LIBDIR"
  local ext
  for ext in "$XTABLES_LIBDIR"/*.so; do
    copy_with_libs "$ext" "$rootfs" "$ext"
  done
  for name in iptables iptables-restore iptables-save; do
    ln -sf xtables-nft-multi "$rootfs/usr/sbin/$name"
    ln -sf xtables-nft-multi "$rootfs/usr/sbin/${name/iptables/iptables-nft}"
    ln -sf xtables-legacy-multi "$rootfs/usr/sbin/${name/iptables/iptables-legacy}"
  done
  # iptables -w takes its lock here.
  mkdir -p "$rootfs/run"
}

fill_etcd() {
  copy_with_libs "$ETCD_BIN" "$1" /usr/local/bin/etcd
  copy_with_libs "$ETCDCTL_BIN" "$1" /usr/local/bin/etcdctl
  mkdir -p "$1/var/lib/etcd"
}

NODE_TAG=$(input_hash "$NODE_BIN" "$BUSYBOX_BIN" "$XTABLES_DIR"/xtables-{nft,legacy}-multi "$XTABLES_LIBDIR"/*.so)
ETCD_TAG=$(input_hash "$ETCD_BIN" "$ETCDCTL_BIN" "$BUSYBOX_BIN")
PATH_ENV="PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"

build_image tskube/node-base "$NODE_TAG" fill_node \
  --change "ENV $PATH_ENV" --change "ENV NODE_VERSION=$("$NODE_BIN" --version | tr -d v)" \
  --change 'CMD ["node"]'
build_image tskube/etcd-base "$ETCD_TAG" fill_etcd \
  --change "ENV $PATH_ENV" --change 'EXPOSE 2379 2380' --change 'CMD ["/usr/local/bin/etcd"]'

# Rewrite only our keys, so anything else a user keeps in .env survives.
declare -A values=(
  [NODE_IMAGE]="tskube/node-base:$NODE_TAG"
  [ETCD_IMAGE]="tskube/etcd-base:$ETCD_TAG"
  [TSKUBE_BUNDLE]="host"
  [SANDBOX_IMAGE]="tskube/node-base:latest"
)
tmp=$(mktemp)
if [ -f "$ENV_FILE" ]; then
  grep -vE "^($(IFS='|'; echo "${!values[*]}"))=" "$ENV_FILE" >"$tmp" || true
fi
for key in NODE_IMAGE ETCD_IMAGE TSKUBE_BUNDLE SANDBOX_IMAGE; do
  echo "$key=${values[$key]}" >>"$tmp"
done
chmod 644 "$tmp"
mv "$tmp" "$ENV_FILE"
log "wrote $ENV_FILE:"
sed 's/^/  /' "$ENV_FILE"

# The image copies host-built bundles (see docker/tskube.Dockerfile, TSKUBE_BUNDLE=host); rebuilding them
# every run keeps the image in step with the source.
if [ ! -d node_modules/.pnpm ]; then
  log "installing workspace dependencies"
  pnpm install --frozen-lockfile
fi
log "bundling components"
node_modules/.bin/tsx scripts/bundle-image.ts
