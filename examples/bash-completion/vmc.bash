# Bash completion for caster and catcher, installed as
# /usr/share/bash-completion/completions/{caster,catcher}.
#
# Everything is read from the tool itself, so it is never out of date: the
# commands and options from its --help at each level, and the names a
# command takes from its --json output (catcher: subscriptions and images;
# caster: lists), with the global options already typed (--config,
# --state-dir, --store) passed on.

# The options of `$@ --help` that take a value ("--config arg").
_vmc_valued_options() {
  "$@" --help 2>/dev/null | grep -oE -- '--[a-z0-9-]+ arg' | cut -d' ' -f1
}

# The words of the "Commands:" section of `$@ --help`: the next word of each
# command below that path.
_vmc_subcommands() {
  "$@" --help 2>/dev/null | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' |
    sort -u
}

# The values of KEY ("name", "identifier") in the JSON `$@` prints.
_vmc_json_values() {
  local key=$1
  shift
  "$@" 2>/dev/null | grep -oE "\"$key\":\"[^\"]+\"" | cut -d'"' -f4 | sort -u
}

_vmc_complete() {
  local tool=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
  local -a globals=() path=()
  local valued i word leaf=0
  valued=$(_vmc_valued_options "$tool")
  # Walk the words before the cursor: global options (with their values),
  # then the command path, as far as the tool knows it.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      if ((${#path[@]} == 0)); then globals+=("$word"); fi
      if grep -qxF -- "$word" <<<"$valued" && ((i + 1 < COMP_CWORD)); then
        ((i++))
        if ((${#path[@]} == 0)); then globals+=("${COMP_WORDS[i]}"); fi
      fi
      continue
    fi
    if ((!leaf)) && grep -qxF -- "$word" <<<"$(_vmc_subcommands "$tool" "${path[@]}")"; then
      path+=("$word")
    else
      leaf=1
    fi
  done
  # The value of an option that takes one: a file name.
  local previous=${COMP_WORDS[COMP_CWORD - 1]}
  if ((COMP_CWORD > 1)) && [[ $previous == -* ]] &&
    grep -qxF -- "$previous" <<<"$(_vmc_valued_options "$tool" "${path[@]}")"; then
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    return
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$("$tool" "${path[@]}" --help 2>/dev/null |
      grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)" -- "$cur")
    return
  fi
  local commands
  commands=$(_vmc_subcommands "$tool" "${path[@]}")
  if [[ -n $commands ]] && ((!leaf)); then
    mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
    return
  fi
  # A command's argument: the names it takes.
  local names=""
  case "$tool ${path[*]}" in
    "catcher update" | "catcher unsubscribe" | "catcher subscription "*)
      names=$(_vmc_json_values name "$tool" "${globals[@]}" --json subscriptions)
      ;;
    "catcher image "*)
      names=$(_vmc_json_values identifier "$tool" "${globals[@]}" --json images)
      ;;
    "caster list "* | "caster image "* | "caster sign" | "caster publish")
      if ((${#path[@]} == 1 || ${#path[@]} == 2)) && [[ ${path[*]} != "list create" &&
        ${path[*]} != "list ls" && ${path[*]} != "list import" ]]; then
        names=$(_vmc_json_values identifier "$tool" "${globals[@]}" --json list ls)
      fi
      ;;
  esac
  if [[ -n $names ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}

complete -F _vmc_complete caster catcher
