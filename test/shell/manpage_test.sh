#!/usr/bin/env bash
# The generated man pages render without a warning from groff, and name every
# command and every option the tool's --help names.
# Usage: manpage_test.sh TOOL PAGE
set -euo pipefail
tool=$1 page=$2
warnings=$(LC_ALL=C groff -man -Tutf8 -ww -z "$page" 2>&1)
[[ -z $warnings ]] || { echo "FAIL: groff warns on $page: $warnings" >&2; exit 1; }
text=$(MANWIDTH=200 LC_ALL=C man -l "$page" 2>/dev/null | col -b)
failures=0
while read -r option; do
  grep -qF -- "$option" <<<"$text" || { echo "FAIL: $page lacks $option" >&2; failures=$((failures + 1)); }
done < <("$tool" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
while read -r command; do
  grep -qE "^ +$command( [a-z-]+)?$" <<<"$text" || { echo "FAIL: $page lacks the command $command" >&2; failures=$((failures + 1)); }
done < <("$tool" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort -u)
((failures == 0)) || exit 1
echo "$page: every command and global option of $tool --help"
