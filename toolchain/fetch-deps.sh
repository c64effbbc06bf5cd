#!/bin/bash
# Fetch lwIP, Mbed TLS and cJSON from Debian 13 (trixie) source packages into .deps/.
#
# apt verifies every file against Debian's signed Sources index; dpkg-source checks the
# .dsc checksums and applies Debian's patches (security fixes included). The apt
# configuration is private (under .deps/apt): the deb-src line is derived from this
# machine's own apt sources (same mirror URI and keyring), and no system apt file changes.
#
# Sources are reused when present; pass --refresh to fetch again.
# Usage: toolchain/fetch-deps.sh [--refresh]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps=$top/.deps
suite=trixie
# package  expected upstream series  name of the unpacked tree under .deps/
pins=("lwip 2.2. lwip" "mbedtls 3.6. mbedtls" "cjson 1.7. cjson")

if [ "${1:-}" != --refresh ] && [ -s "$deps/VERSIONS" ] &&
   [ -d "$deps/lwip" ] && [ -d "$deps/mbedtls" ] && [ -d "$deps/cjson" ]; then
  echo "fetch-deps: using cached sources in .deps:"; sed 's/^/  /' "$deps/VERSIONS"
  exit 0
fi

# The machine's Debian archive entry: first "deb" source whose suite is the release
# itself (not -security/-updates), in deb822 .sources files or one-line sources.list.
archive_entry() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""; FS="\n"}
      { types=""; uris=""; suites=""; key=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)     { types = substr($i, 7) }
          if ($i ~ /^URIs:/)      { uris = substr($i, 6) }
          if ($i ~ /^Suites:/)    { suites = substr($i, 8) }
          if ($i ~ /^Signed-By:/) { key = substr($i, 11) }
        }
        if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )[a-z]+( |$)/ && uris ~ /\/debian\/?( |$)/) {
          split(uris, u, " "); gsub(/ /, "", key); print u[1], key; exit
        }
      }' "$f"
  done
  [ -f /etc/apt/sources.list ] &&
    awk '$1 == "deb" {
      key = ""; i = 2
      if ($2 ~ /^\[/) { for (; i <= NF && $i !~ /\]$/; i++) if ($i ~ /signed-by=/) key = $i
                        if ($i ~ /signed-by=/) key = $i; i++ }
      sub(/.*signed-by=/, "", key); sub(/\]$/, "", key)
      if ($(i+1) ~ /^[a-z]+$/ && $i ~ /\/debian\/?$/) { print $i, key; exit }
    }' /etc/apt/sources.list
}

read -r uri keyring < <(archive_entry | head -n 1) || true
[ -n "${uri:-}" ] || { echo "fetch-deps: no Debian archive entry found in the machine's apt sources" >&2; exit 1; }
case "$keyring" in
  ""|/*) ;;
  *) echo "fetch-deps: unsupported Signed-By value (inline key?) in apt sources" >&2; exit 1 ;;
esac

apt_dir=$deps/apt
rm -rf "$apt_dir"; mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts" "$apt_dir/download"
opts=${keyring:+[signed-by=$keyring] }
echo "deb-src ${opts}${uri} ${suite} main" > "$apt_dir/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
             -o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root")

echo "fetch-deps: reading Debian $suite source index"
apt-get -qq "${apt_private[@]}" update
cd "$apt_dir/download"
apt-get -qq "${apt_private[@]}" source --download-only lwip mbedtls cjson

mkdir -p "$deps/src"
: > "$deps/VERSIONS.new"
for pin in "${pins[@]}"; do
  read -r pkg series name <<< "$pin"
  dsc=$(ls "$pkg"_*.dsc)
  version=$(sed -n 's/^Version: //p' "$dsc")
  case "$version" in
    "$series"*) ;;
    *) echo "fetch-deps: $pkg $version is not the pinned ${series}x series" >&2; exit 1 ;;
  esac
  tree=$deps/src/$pkg-$version
  rm -rf "$tree"
  # Checksums are verified against the .dsc (itself verified by apt); dpkg-source's own
  # signature check only warns, since the machine need not carry Debian's developer keys.
  dpkg-source -x "$dsc" "$tree" > "$deps/src/$pkg.unpack.log" 2>&1 ||
    { cat "$deps/src/$pkg.unpack.log" >&2; echo "fetch-deps: unpacking $pkg failed" >&2; exit 1; }
  ln -sfn "src/$pkg-$version" "$deps/$name"
  echo "$pkg $version" >> "$deps/VERSIONS.new"
done
mv "$deps/VERSIONS.new" "$deps/VERSIONS"
rm -rf "$apt_dir/download" "$deps"/src/*.orig.tar.*
echo "fetch-deps: fetched into .deps:"; sed 's/^/  /' "$deps/VERSIONS"
