#!/usr/bin/env bash
# Scripted mutation testing: each bench/mutants/*.patch is one realistic mutant (a
# "Mutant:" line saying what it breaks, a "Filter:" line naming the specs that should kill
# it, then the diff). For each: apply it, build, run only its specs, revert, and print
# killed (a spec failed), survived (all passed) or stillborn (it did not build). One mutant
# at a time, so it stays within a shared 2-core machine; the score is killed / (killed +
# survived). Run from the repository root, on a clean work tree:
#   bench/mutants/run.sh [PATCH...]
set -u
cd "$(git rev-parse --show-toplevel)"
if ! git diff --quiet; then
  echo "run.sh: the work tree has changes; commit or stash them first" >&2
  exit 2
fi
patches=("$@")
[ ${#patches[@]} -eq 0 ] && patches=(bench/mutants/*.patch)
killed=0; survived=0; stillborn=0; survivors=()
for p in "${patches[@]}"; do
  name=$(basename "$p" .patch)
  filter=$(sed -n 's/^Filter: //p' "$p" | head -1)
  if ! git apply "$p"; then
    echo "$name: does not apply"; stillborn=$((stillborn + 1)); continue
  fi
  if ! dotnet build Tests -v q -nologo >/tmp/mutant-build.log 2>&1; then
    result=stillborn; stillborn=$((stillborn + 1))
  elif dotnet test Tests --no-build --filter "$filter" >/tmp/mutant-test.log 2>&1; then
    result=survived; survived=$((survived + 1)); survivors+=("$name")
  else
    result=killed; killed=$((killed + 1))
  fi
  git apply -R "$p"
  echo "$name: $result ($filter)"
done
# The unmutated code must pass the same specs, or a "kill" means nothing.
dotnet build Tests -v q -nologo >/tmp/mutant-build.log 2>&1 || { echo "the unmutated build fails" >&2; exit 1; }
echo "killed $killed, survived $survived, stillborn $stillborn; score $killed/$((killed + survived))"
for s in "${survivors[@]}"; do echo "survivor: $s"; done
