#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs every check and prints
# one summary line, `N passed, N failed`, exiting non-zero if anything failed.
#
#   bash scripts/test.sh            # e2e (docker compose) runs when Docker is usable
#   TSKUBE_E2E=1 bash scripts/test.sh   # e2e must run (fails if Docker is not usable)
#   TSKUBE_E2E=0 bash scripts/test.sh   # skip e2e
#
# Counting: every vitest test counts once (from vitest's JSON report); lint, typecheck and gen:check
# count as one check each; a test file that fails outside its tests (hook, import) counts one failure,
# and so does a vitest run that fails with no failed file (an unhandled error).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "test.sh: need root to run: $*" >&2; return 1
  fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || { echo "test.sh: install $* with your package manager" >&2; return 1; }
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq && apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "prerequisites"
command -v pnpm >/dev/null || npm install -g pnpm@10 || exit 1
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  apt_install etcd-server etcd-client || exit 1
fi
echo "node $(node --version), pnpm $(pnpm --version), $(etcd --version | head -1)"
pnpm install --frozen-lockfile || exit 1

compose_usable() {
  docker info >/dev/null 2>&1 || return 1
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null
}

run_e2e=0
e2e_skip="Docker is not usable here (TSKUBE_E2E=1 requires it)"
case "${TSKUBE_E2E:-auto}" in
  1 | true | yes) run_e2e=1 ;;
  0 | false | no) e2e_skip="TSKUBE_E2E=${TSKUBE_E2E}" ;;
  *) compose_usable && run_e2e=1 ;;
esac

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
passed=0
failed=0
declare -a report=()

# A step that is not a test suite: one check.
check() {
  local name=$1
  shift
  section "$name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    report+=("ok    $name ($((SECONDS - start))s)")
  else
    failed=$((failed + 1))
    report+=("FAIL  $name ($((SECONDS - start))s)")
  fi
}

# A vitest project: its tests, counted from the JSON report.
suite() {
  local name=$1 project=$2
  section "$name"
  local start=$SECONDS json="$results/$project.json"
  TSKUBE_FAILURES_FILE="$json.failed" pnpm exec vitest run --project "$project" --passWithNoTests \
    --reporter=default --reporter=json --outputFile.json="$json" --reporter=./scripts/failures-reporter.ts
  local code=$?
  local counts
  # shellcheck disable=SC2016 # JavaScript template literal, not shell
  counts=$(node -e '
    const fs = require("node:fs");
    let r;
    try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("0 0 0"); process.exit(0); }
    // A file that failed outside its tests (a beforeAll hook, an import) counts at least one failure.
    let failed = 0;
    for (const f of r.testResults ?? []) {
      const own = (f.assertionResults ?? []).filter((a) => a.status === "failed").length;
      failed += Math.max(own, f.status === "failed" ? 1 : 0);
    }
    console.log(`${r.numPassedTests} ${Math.max(failed, r.numFailedTests)} ${r.success ? 1 : 0}`);
  ' "$json")
  local p f ok
  read -r p f ok <<<"$counts"
  # A failed run with no failed test (import error, unhandled rejection, crash) is still a failure.
  if [ "$code" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  if [ "$ok" = 0 ] && [ "$f" = 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  local status=ok
  [ "$f" = 0 ] || status=FAIL
  report+=("$(printf '%-5s %s: %d passed, %d failed (%ss)' "$status" "$name" "$p" "$f" "$((SECONDS - start))")")
  if [ -s "$json.failed" ]; then report+=("$(cat "$json.failed")"); fi
}

check "lint (biome + buf)" pnpm lint
check "typecheck" pnpm typecheck
check "generated code up to date" pnpm gen:check
suite "unit tests" unit
suite "integration tests (real etcd)" integration

if [ $run_e2e = 1 ]; then
  prepare_e2e() {
    compose_usable || { echo "Docker (daemon + compose) is not usable; start dockerd or set TSKUBE_E2E=0" >&2; return 1; }
    # Without .env the compose file falls back to public images; build the local ones unless present.
    if ! grep -q '^NODE_IMAGE=' .env 2>/dev/null; then
      command -v busybox >/dev/null || apt_install busybox-static || return 1
      # The offline node image carries the host's iptables (kube-proxy's iptables mode in compose).
      [ -x /usr/sbin/xtables-nft-multi ] && [ -x /usr/sbin/xtables-legacy-multi ] || apt_install iptables || return 1
      bash scripts/images-offline.sh
    fi
  }
  if prepare_e2e; then
    suite "e2e (docker compose)" e2e
  else
    failed=$((failed + 1))
    report+=("FAIL  e2e (docker compose): prerequisites")
  fi
else
  report+=("skip  e2e (docker compose): $e2e_skip")
fi

section "summary"
printf '%s\n' "${report[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
