#!/usr/bin/env bash
# The bash completion (examples/bash-completion/vmc.bash) against the built tools:
# commands and options from their --help, names from their --json output.
# Usage: completion_test.sh COMPLETION CASTER CATCHER
set -euo pipefail
completion=$(realpath "$1") caster=$(realpath "$2") catcher=$(realpath "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$caster" "$work/bin/caster"
ln -s "$catcher" "$work/bin/catcher"
export PATH="$work/bin:$PATH"
# shellcheck source=/dev/null
source "$completion"

failures=0
# Runs the completion for the command line LINE (a trailing blank: a new word
# begins), as an interactive shell would: no errexit, no pipefail.
complete_line() {
  read -r -a COMP_WORDS <<<"$1"
  if [[ $1 == *" " ]]; then COMP_WORDS+=(""); fi
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  set +eo pipefail
  _vmc_complete
  set -eo pipefail
}
# expect "WORDS..." WORD...: COMPREPLY must hold each WORD (and may hold more).
expect() {
  local line=$1 want
  shift
  complete_line "$line"
  for want in "$@"; do
    if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$want"; then
      echo "FAIL: '$line' does not offer '$want' (offers: ${COMPREPLY[*]:-nothing})" >&2
      failures=$((failures + 1))
    fi
  done
}
# refuse "WORDS..." WORD: COMPREPLY must not hold WORD.
refuse() {
  complete_line "$1"
  if printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$2"; then
    echo "FAIL: '$1' offers '$2'" >&2
    failures=$((failures + 1))
  fi
}

# Commands, at each level.
expect "caster l" list
expect "caster list " create ls show set unset import export delete
expect "catcher " subscribe subscriptions update images image cache run status export
expect "catcher image " accept refuse
refuse "caster list " sign
# Options: the command's and the globals.
expect "caster sign --c" --cert --config
expect "caster sign --" --key --passphrase-file --version --json
expect "catcher cache --" --check --download --expire --state-dir
# Names from the tools' --json output, with the globals typed so far.
cat >"$work/policy.json" <<'JSON'
{"endorsers": {"e": {"dn": "/CN=x", "ca": "/CN=y"}},
 "subscriptions": [
   {"name": "alpha", "url": "file:///nowhere/a", "endorser": "e", "images": "all"},
   {"name": "beta", "url": "file:///nowhere/b", "endorser": "e", "images": "all"}]}
JSON
printf 'state-dir = %s\npolicy = %s\n' "$work/state" "$work/policy.json" >"$work/catcher.conf"
expect "catcher --config $work/catcher.conf update " alpha beta
expect "catcher --config $work/catcher.conf update a" alpha
refuse "catcher --config $work/catcher.conf update a" beta
list=$(caster --store "$work/store" list create --title t --description d --source s \
  --uri https://example.org/l)
expect "caster --store $work/store list show " "$list"
expect "caster --store $work/store sign " "$list"
# An option's value is a file name.
touch "$work/usercert.p12"
expect "caster sign --cert $work/user" "$work/usercert.p12"

if ((failures > 0)); then
  echo "$failures completion(s) wrong" >&2
  exit 1
fi
echo "completion: all cases pass"
