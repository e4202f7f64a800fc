#!/usr/bin/env bash
# Generates a large release repository for benchmarks, fast, with git fast-import:
#   DIR/work        a clone on main, clean and up to date with origin/main
#   DIR/origin.git  its bare origin, holding every commit and tag
# Sizes (env): FILES=50000 COMMITS=20000 TAGS=2000. Tags are annotated releases
# v0.M.P on every (COMMITS/TAGS)-th commit; the highest is on HEAD's parent chain.
# Usage: scripts/gen-large-repo.sh DIR
set -euo pipefail
dir=${1:?usage: gen-large-repo.sh DIR}
FILES=${FILES:-50000}
COMMITS=${COMMITS:-20000}
TAGS=${TAGS:-2000}
rm -rf "$dir"
mkdir -p "$dir"
git init -q --bare -b main "$dir/origin.git"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
awk -v files="$FILES" -v commits="$COMMITS" -v tags="$TAGS" 'BEGIN {
  every = int(commits / tags); if (every < 1) every = 1
  t = 1700000000
  # Commit 1 adds every file (spread over 100 directories).
  printf "commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> %d +0000\n", t
  msg = "initial import"; printf "data %d\n%s\n", length(msg), msg
  for (f = 0; f < files; f++) {
    body = "file " f "\n"
    printf "M 100644 inline src/d%02d/f%05d.txt\ndata %d\n%s\n", f % 100, f, length(body), body
  }
  ntag = 0
  for (c = 2; c <= commits; c++) {
    f = (c * 7919) % files
    printf "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n", c, t + c
    msg = "change " c; printf "data %d\n%s\n", length(msg), msg
    body = "file " f " rev " c "\n"
    printf "M 100644 inline src/d%02d/f%05d.txt\ndata %d\n%s\n", f % 100, f, length(body), body
    if (c % every == 0 && ntag < tags) {
      name = sprintf("v0.%d.%d", int(ntag / 100), ntag % 100)
      printf "tag %s\nfrom :%d\ntagger Bench <bench@example.com> %d +0000\n", name, c, t + c
      msg = "Release " name; printf "data %d\n%s\n", length(msg), msg
      ntag++
    }
  }
}' | git -C "$dir/origin.git" fast-import --quiet
git clone -q "$dir/origin.git" "$dir/work"
git -C "$dir/work" config user.name Bench
git -C "$dir/work" config user.email bench@example.com
echo "generated $dir: $(git -C "$dir/work" ls-files | wc -l) files, $(git -C "$dir/work" rev-list --count HEAD) commits, $(git -C "$dir/work" tag | wc -l) tags"
