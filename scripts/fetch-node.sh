#!/usr/bin/env bash
# Official Node.js binaries for testing on the LTS lines users run, from the
# npm registry only: the Node project publishes each Linux build there as
# `node-linux-<arch>@<version>` (package/bin/node). `npm pack` checks the
# tarball against the registry's integrity hash.
#
#   bash scripts/fetch-node.sh 24 22   ->  build/node-24/bin/node, build/node-22/bin/node
#
# Prints one line per major: `<major> <dir> <version>`. A major already in
# build/ is kept (delete build/node-<major> to fetch the newest again).
# Use one by putting it first on PATH: PATH="$PWD/build/node-24/bin:$PATH" npm test
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "fetch-node: no official Node.js package for $(uname -m) on the npm registry" >&2; exit 1 ;;
esac

[ "$#" -gt 0 ] || set -- 24 22
for major in "$@"; do
  dir="build/node-$major"
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    # --ignore-scripts: the package is data (a binary); nothing of it runs here but bin/node itself.
    tarball=$(npm pack "node-linux-$arch@$major" --pack-destination "$tmp" --ignore-scripts --silent | tail -n 1)
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    tar -xzf "$tmp/$tarball" -C "$dir.partial" --strip-components=1 package/bin/node package/LICENSE
    rm -rf "$tmp" "$dir"
    mv "$dir.partial" "$dir"
  fi
  echo "$major $dir $("$dir/bin/node" --version)"
done
