#!/usr/bin/env bash
# The generated file pages render without a warning from groff: catcher.conf(5)
# describes every key of the config file a site is given (whose keys
# catcher_settings_test holds equal to those catcher reads), and
# catcher-policy(5) every key the policy's JSON Schema allows.
# Usage: manpage_files_test.sh CONF_PAGE SITE_CONF POLICY_PAGE POLICY_SCHEMA
set -euo pipefail
conf_page=$1 site_conf=$2 policy_page=$3 schema=$4
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
rendered() { MANWIDTH=200 LC_ALL=C man -l "$1" 2>/dev/null | col -b; }
for page in "$conf_page" "$policy_page"; do
  warnings=$(LC_ALL=C groff -man -Tutf8 -ww -z "$page" 2>&1)
  [[ -z $warnings ]] || fail "groff warns on $page: $warnings"
done
# A key's entry is a line of its own, indented once: "       key = value".
conf=$(rendered "$conf_page")
keys=$(sed -nE 's/^#?([a-z][a-z0-9-]*) = .*/\1/p' "$site_conf" | sort -u)
[[ -n $keys ]] || fail "no keys in $site_conf"
for key in $keys; do
  grep -qE "^ {7}$key = " <<<"$conf" || fail "$conf_page has no entry for $key"
done
# Each property of the schema, at the top level and in its definitions.
policy=$(rendered "$policy_page")
properties=$(/usr/bin/python3 -c '
import json, sys
schema = json.load(open(sys.argv[1]))
nodes = [schema, schema["properties"]["limits"], *schema["definitions"].values()]
print("\n".join(sorted({k for n in nodes for k in n.get("properties", {})})))' "$schema")
for key in $properties; do
  grep -qE "^ {7}$key( \(required\))?( |$)" <<<"$policy" || fail "$policy_page has no entry for $key"
done
((failures == 0)) || exit 1
echo "$conf_page and $policy_page: every key"
