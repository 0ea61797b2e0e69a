#!/usr/bin/env bash
# Fails when packages/api/src/gen or apps/apiserver/src/storage/gen differs from what proto/ and
# apps/apiserver/proto generate.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm -s gen
if [ -n "$(git status --porcelain -- packages/api/src/gen apps/apiserver/src/storage/gen)" ]; then
  echo "generated code is stale: run 'pnpm gen' and commit packages/api/src/gen and apps/apiserver/src/storage/gen" >&2
  git status --porcelain -- packages/api/src/gen apps/apiserver/src/storage/gen >&2
  exit 1
fi
echo "generated code is up to date"
