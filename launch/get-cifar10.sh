#!/usr/bin/env bash
# Usage: launch/get-cifar10.sh [DIR]
# Downloads the official CIFAR-10 binary archive, checks its SHA-256, and extracts its six .bin
# files into DIR (default ./cifar-10-batches-bin, a path `resnet-dist` searches by default).
#   - A partial download (DIR/.download/cifar-10-binary.tar.gz.part) is resumed with an HTTP range
#     request; if the server cannot resume, the download starts again. Each choice is said.
#   - The archive is refused if any member's path is absolute or has a '..' component, or if any
#     of the six wanted members is not a regular file; nothing else in it is extracted.
#   - Files already in DIR are replaced only once the archive has been checked.
# Environment (for mirrors and tests): CIFAR10_URL, CIFAR10_SHA256, CIFAR10_BYTES (expected size).
# Exit status: 0 done (or already there), 1 download or check failed, 64 bad usage.
set -euo pipefail
url=${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}
sha256=${CIFAR10_SHA256:-c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd}
bytes=${CIFAR10_BYTES:-170052171}
members=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)
say() { echo "get-cifar10: $*" >&2; }
fail() { say "error: $*"; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) say "error: unknown option '$1' (usage: $0 [DIR])"; exit 64 ;;
esac
[ $# -le 1 ] || { say "error: one directory at most (usage: $0 [DIR])"; exit 64; }
dir=${1:-cifar-10-batches-bin}
for tool in curl sha256sum tar; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed (apt-get install -y curl coreutils tar)"
done

have_all() { for m in "${members[@]}"; do [ -f "$1/$m" ] || return 1; done; }
if have_all "$dir" && [ -f "$dir/.sha256" ] && [ "$(cat "$dir/.sha256")" = "$sha256" ]; then
  say "$dir already holds CIFAR-10 (archive $sha256); nothing to do"
  exit 0
fi

mkdir -p "$dir/.download" || fail "cannot create $dir/.download"
archive="$dir/.download/cifar-10-binary.tar.gz"
part="$archive.part"
if [ -f "$archive" ]; then
  say "using the archive downloaded before: $archive"
else
  if [ -s "$part" ]; then
    have=$(stat -c %s "$part")
    say "resuming the partial download at byte $have of $bytes: $url"
    if ! curl --fail --location --silent --show-error --continue-at - --output "$part" "$url"; then
      say "the server cannot resume it; starting the download again"
      rm -f "$part"
    fi
  fi
  if [ ! -s "$part" ]; then
    say "downloading $url ($bytes bytes) to $part"
    curl --fail --location --silent --show-error --output "$part" "$url" \
      || fail "download of $url failed; run again to resume it"
  fi
  got=$(stat -c %s "$part")
  if [ "$got" -lt "$bytes" ]; then
    fail "the download stopped at $got of $bytes bytes ($part is kept); run again to resume it"
  fi
  mv "$part" "$archive"
fi

say "checking SHA-256 of $archive"
actual=$(sha256sum "$archive" | cut -d' ' -f1)
if [ "$actual" != "$sha256" ]; then
  mv "$archive" "$archive.bad"
  fail "$archive has SHA-256 $actual, not $sha256 (moved to $archive.bad; run again to download it anew)"
fi

# Every member's path, then its type: refuse absolute paths, '..' components and links.
listing=$(tar -tzf "$archive") || fail "$archive is not a readable gzip tar archive"
while IFS= read -r name; do
  case "/$name/" in
    //*|*/../*) fail "$archive holds the member '$name', outside the archive's directory: refused" ;;
  esac
done <<< "$listing"
verbose=$(tar -tvzf "$archive")
for m in "${members[@]}"; do
  line=$(grep -E " cifar-10-batches-bin/$m( -> .*| link to .*)?\$" <<< "$verbose" || true)
  [ -n "$line" ] || fail "$archive has no member cifar-10-batches-bin/$m"
  [ "${line:0:1}" = "-" ] || fail "$archive: cifar-10-batches-bin/$m is not a regular file (a link?): refused"
done

staging=$(mktemp -d "$dir/.download/extract.XXXXXX")
trap 'rm -rf "$staging"' EXIT
tar -xzf "$archive" -C "$staging" --no-same-owner --no-same-permissions \
  "${members[@]/#/cifar-10-batches-bin/}" || fail "extracting $archive failed"
for m in "${members[@]}"; do mv -f "$staging/cifar-10-batches-bin/$m" "$dir/$m"; done
echo "$sha256" > "$dir/.sha256"
rm -f "$archive"
say "CIFAR-10 is in $dir: ${members[*]}"
