#!/bin/sh
# Installs a released almarel binary, its SHA-256 checksum verified. No Rust needed.
#
#   curl -fsSL https://raw.githubusercontent.com/almafrica/almarel/v0.1.0/scripts/install.sh \
#     | sh -s -- --version 0.1.0
#
# Options (each also read from the environment variable named in brackets):
#   --version X.Y.Z   the release to install, with or without the v [ALMAREL_VERSION]; required
#   --target TRIPLE   the build to install [ALMAREL_TARGET]; default: this machine's
#                     (Linux: the static musl build; macOS: Apple silicon or Intel; Windows: msvc)
#   --dir DIR         where to put the binary [ALMAREL_INSTALL_DIR]; default: ~/.local/bin
#   --base-url URL    where the releases live [ALMAREL_BASE_URL]; default:
#                     https://github.com/almafrica/almarel/releases/download
#                     (also http://, file:// or a local directory, e.g. a mirror)
#
# It downloads {base}/v{version}/almarel-v{version}-{target}.tar.gz (.zip on Windows)
# and the .sha256 beside it, refuses to install when the checksums differ, and
# replaces {dir}/almarel in one rename. Exit 0 installed, 1 failed, 2 usage error.
set -eu

version=${ALMAREL_VERSION:-}
target=${ALMAREL_TARGET:-}
dir=${ALMAREL_INSTALL_DIR:-}
base=${ALMAREL_BASE_URL:-https://github.com/almafrica/almarel/releases/download}

say() { printf 'almarel-install: %s\n' "$*" >&2; }
die() { say "error: $1"; [ -n "${2:-}" ] && say "hint: $2"; exit 1; }
usage() { say "error: $1"; say "usage: install.sh --version X.Y.Z [--target TRIPLE] [--dir DIR] [--base-url URL]"; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version|--target|--dir|--base-url)
      [ $# -ge 2 ] || usage "$1 needs a value"
      case "$1" in
        --version) version=$2 ;;
        --target) target=$2 ;;
        --dir) dir=$2 ;;
        --base-url) base=$2 ;;
      esac
      shift 2 ;;
    --version=*) version=${1#*=}; shift ;;
    --target=*) target=${1#*=}; shift ;;
    --dir=*) dir=${1#*=}; shift ;;
    --base-url=*) base=${1#*=}; shift ;;
    -h|--help) sed -n '2,20p' "$0" 2>/dev/null || true; exit 0 ;;
    *) usage "unknown argument: $1" ;;
  esac
done

version=${version#v}
case "$version" in
  "") usage "--version is required (e.g. --version 0.1.0; the releases: https://github.com/almafrica/almarel/releases)" ;;
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) usage "--version must be X.Y.Z or vX.Y.Z, not '$version'" ;;
esac

if [ -z "$target" ]; then
  os=$(uname -s)
  arch=$(uname -m)
  case "$os-$arch" in
    Linux-x86_64|Linux-amd64) target=x86_64-unknown-linux-musl ;;
    Linux-aarch64|Linux-arm64) target=aarch64-unknown-linux-musl ;;
    Darwin-arm64|Darwin-aarch64) target=aarch64-apple-darwin ;;
    Darwin-x86_64) target=x86_64-apple-darwin ;;
    MINGW*-x86_64|MSYS*-x86_64|CYGWIN*-x86_64) target=x86_64-pc-windows-msvc ;;
    *) die "no almarel release binary for $os $arch" "install with Rust instead: cargo install --locked almarel" ;;
  esac
fi
[ -n "$dir" ] || dir="${HOME:?HOME is not set; pass --dir}/.local/bin"

name="almarel-v${version}-${target}"
case "$target" in
  *windows*) archive="$name.zip"; exe=almarel.exe ;;
  *) archive="$name.tar.gz"; exe=almarel ;;
esac
base=${base%/}
url="$base/v$version/$archive"

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t almarel)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fetch URL FILE: http(s) with curl (else wget), file:// and local paths by copying.
fetch() {
  case "$1" in
    file://*) cp "${1#file://}" "$2" 2>/dev/null || die "cannot read ${1#file://}" ;;
    http://*|https://*)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2" "$1" || die "cannot download $1" "check the version and target: the release's files are listed at https://github.com/almafrica/almarel/releases"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1" || die "cannot download $1" "check the version and target"
      else
        die "neither curl nor wget is installed" "install curl, then re-run"
      fi ;;
    *) cp "$1" "$2" 2>/dev/null || die "cannot read $1" ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    die "neither sha256sum nor shasum is installed; cannot verify the download"
  fi
}

say "downloading $url"
fetch "$url" "$tmp/$archive"
fetch "$url.sha256" "$tmp/$archive.sha256"

expected=$(awk 'NR == 1 {print tolower($1)}' "$tmp/$archive.sha256")
actual=$(sha256 "$tmp/$archive")
case "$expected" in
  [0-9a-f]*) [ ${#expected} -eq 64 ] || die "$archive.sha256 does not hold a SHA-256" ;;
  *) die "$archive.sha256 does not hold a SHA-256" ;;
esac
[ "$expected" = "$actual" ] || die "checksum mismatch for $archive: expected $expected, got $actual; nothing was installed" "download again; if it persists, report it"
say "checksum verified: sha256 $actual"

case "$archive" in
  *.zip) command -v unzip >/dev/null 2>&1 || die "unzip is not installed"
         unzip -q "$tmp/$archive" -d "$tmp/x" ;;
  *) mkdir "$tmp/x" && tar xzf "$tmp/$archive" -C "$tmp/x" ;;
esac
[ -f "$tmp/x/$name/$exe" ] || die "$archive has no $name/$exe"

mkdir -p "$dir" || die "cannot create $dir"
cp "$tmp/x/$name/$exe" "$dir/.$exe.new" || die "cannot write to $dir" "pass --dir to a directory you can write"
chmod 755 "$dir/.$exe.new"
mv -f "$dir/.$exe.new" "$dir/$exe"
say "installed $("$dir/$exe" --version 2>/dev/null || echo "almarel $version") to $dir/$exe"
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) say "$dir is not on PATH: add it, e.g. export PATH=\"$dir:\$PATH\"" ;;
esac
