#!/bin/sh
# Packages one built almarel binary exactly as a GitHub release publishes it,
# in the layout Cargo.toml's [package.metadata.binstall] expects:
#
#   almarel-v{version}-{target}.tar.gz   (.zip for Windows targets), holding
#     almarel-v{version}-{target}/almarel   (almarel.exe on Windows)
#     almarel-v{version}-{target}/README.md
#     almarel-v{version}-{target}/LICENSE
#   almarel-v{version}-{target}.tar.gz.sha256   ("<sha256>  <archive name>")
#
# usage: scripts/package.sh VERSION TARGET BINARY OUTDIR
# Used by .github/workflows/release.yml and by tests/cli/workflows.rs, so the
# archive the install script is tested against is the one that is published.
set -eu

if [ $# -ne 4 ]; then
  echo "usage: $0 VERSION TARGET BINARY OUTDIR" >&2
  exit 2
fi
version=${1#v}
target=$2
binary=$3
out=$4
root=$(cd "$(dirname "$0")/.." && pwd)

name="almarel-v${version}-${target}"
case "$target" in
  *windows*) exe=almarel.exe; archive="$name.zip" ;;
  *) exe=almarel; archive="$name.tar.gz" ;;
esac

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  else
    shasum -a 256 "$1" | awk '{print $1}'
  fi
}

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/$exe"
chmod 755 "$stage/$name/$exe"
cp "$root/README.md" "$root/LICENSE" "$stage/$name/"

rm -f "$out/$archive"
case "$archive" in
  *.zip)
    if command -v 7z >/dev/null 2>&1; then
      (cd "$stage" && 7z a -tzip "$out/$archive" "$name" >/dev/null)
    else
      (cd "$stage" && zip -qr "$out/$archive" "$name")
    fi
    ;;
  *) (cd "$stage" && tar czf "$out/$archive" "$name") ;;
esac
(cd "$out" && printf '%s  %s\n' "$(sha256 "$archive")" "$archive" > "$archive.sha256")
echo "$out/$archive"
