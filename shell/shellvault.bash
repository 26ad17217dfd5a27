# shellvault shell integration for bash.
#
# Load it from ~/.bashrc:
#
#     eval "$(shellvault init bash)"
#
# What it adds to the shell:
#   - `shellvault use PROFILE` / `shellvault unuse`: load credentials into this shell and take
#     them out again (the `shellvault` function below; every other subcommand runs the binary);
#   - a pre-prompt hook that keeps SHELLVAULT_PROMPT_TEXT current (`PS1='${SHELLVAULT_PROMPT_TEXT} \$ '`
#     costs no fork) and refreshes the credentials in place when they enter the refresh window;
#   - `shellvault_prompt`, which prints the same text;
#   - completion of subcommands, flags and profile names.
#
# Settings (read at every prompt, so they can change at any time):
#   SHELLVAULT_PROMPT_FORMAT       segment format; %p = profile, %t = time left (default "%p %t")
#   SHELLVAULT_PROMPT_STALE_MARK   appended to the time inside the refresh window (default "!")
#   SHELLVAULT_PROMPT_SERVER_MARK  shown instead of the time under `exec --server` (default "server")
#   SHELLVAULT_AUTO_REFRESH=0      never refresh from the prompt hook
#   AWS_MIN_TTL                    the refresh window: 900, 15m, 1h30m... (default 15m)
#
# Supported: bash >= 4.2 with no fork per prompt on bash >= 5 (bash 4.2-4.4: none either, via
# printf's %(...)T); macOS's bash 3.2 works with one `date` fork per prompt while a profile is
# active. Hence no `declare -g`, associative arrays, `mapfile`, `${var,,}` or negative indexes.
#
# Nothing here builds shell code from strings: the only `eval` is of `shellvault env` output,
# whose quoting is proven inert for any value.

# The variables `shellvault env` may set or unset: EXPORTED + CONFLICTING in
# shellvault/output/changes.py (a test keeps the lists equal). `use` remembers their values.
_shellvault_env_vars=(
  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION
  AWS_REGION AWS_DEFAULT_REGION SHELLVAULT_PROFILE SHELLVAULT_EXPIRES AWS_VAULT
  AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN AWS_SDK_LOAD_CONFIG AWS_CREDENTIAL_FILE
)
# The integration's own variables, shared with direnv's `use aws_profile`: remembered and
# restored the same way, so `unuse` inside a direnv folder gives direnv its state back.
_shellvault_own_vars=(SHELLVAULT_REFRESH_ARGS SHELLVAULT_DIRENV)

_shellvault_commands=(add remove list ls exec env export clear login config init use unuse direnv)

# A plain shell variable (never exported): PS1 reads it, the hook keeps it current.
SHELLVAULT_PROMPT_TEXT=

# Usage: shellvault COMMAND [ARGS...]
#
# The shellvault command with two more subcommands that only a shell function can provide,
# because they change the current shell: `use` and `unuse`. Everything else runs the binary
# unchanged (`command shellvault`), so scripts and the shell function behave the same.
#
# Example:
#
#     shellvault use private_admin -d 2h
#     shellvault list
#     shellvault unuse
#
shellvault() {
  local debug=
  # `shellvault --debug use P`: the global flag goes to the `env` that `use` runs.
  if [[ ${1-} == --debug && (${2-} == use || ${2-} == unuse) ]]; then
    debug=1
    shift
  fi
  case ${1-} in
    use)
      shift
      if [[ -n $debug ]]; then
        SHELLVAULT_DEBUG=1 _shellvault_use "$@"
      else
        _shellvault_use "$@"
      fi
      ;;
    unuse)
      shift
      _shellvault_unuse "$@"
      ;;
    *) command shellvault "$@" ;;
  esac
}

# Usage: _shellvault_use PROFILE [-t CODE] [-d DUR] [-n] [--region R]
#
# Loads PROFILE's credentials into this shell, exactly what `eval "$(shellvault env PROFILE)"`
# does, plus: the values it replaces are remembered for `unuse` (once: a second `use` keeps the
# first memory), and the flags are kept in SHELLVAULT_REFRESH_ARGS, one per line, for the prompt
# hook's refresh; `-t` is left out because an MFA code is good for one use only. On any failure
# the shell keeps exactly what it had and the status is non-zero.
#
# Example:
#
#     shellvault use private_admin --region eu-west-1
#
_shellvault_use() {
  local profile= arg out refresh= n=0
  local -a flags record
  flags=()
  record=()
  while (($#)); do
    arg=$1
    shift
    case $arg in
      -h | --help)
        echo 'Usage: shellvault use PROFILE [-t CODE] [-d DUR] [-n] [--region R]'
        echo 'Load PROFILE into this shell; `shellvault unuse` takes it out again.'
        return 0
        ;;
      -t | --mfa-token)
        if (($# == 0)); then
          echo "shellvault: use: $arg needs a value" >&2
          return 2
        fi
        flags+=("$arg" "$1")
        shift
        ;;
      -t* | --mfa-token=*) flags+=("$arg") ;;
      -d | --duration | --region)
        if (($# == 0)); then
          echo "shellvault: use: $arg needs a value" >&2
          return 2
        fi
        flags+=("$arg" "$1")
        record+=("$arg" "$1")
        shift
        ;;
      -d* | --duration=* | --region=* | -n | --no-session)
        flags+=("$arg")
        record+=("$arg")
        ;;
      --)
        if (($# != 1)) || [[ -n $profile ]]; then
          echo 'shellvault: use: usage: shellvault use PROFILE [-t CODE] [-d DUR] [-n] [--region R]' >&2
          return 2
        fi
        profile=$1
        shift
        ;;
      -*)
        echo "shellvault: use: unknown option $arg; usage: shellvault use PROFILE [-t CODE] [-d DUR] [-n] [--region R]" >&2
        return 2
        ;;
      *)
        if [[ -n $profile ]]; then
          echo "shellvault: use: one PROFILE only (got $profile and $arg)" >&2
          return 2
        fi
        profile=$arg
        ;;
    esac
  done
  if [[ -z $profile ]]; then
    echo 'shellvault: use needs a PROFILE; usage: shellvault use PROFILE [-t CODE] [-d DUR] [-n] [--region R]' >&2
    return 2
  fi
  # SHELLVAULT_REFRESH_ARGS is one argument per line: a line break inside one cannot be kept.
  for arg in "$profile" ${record[@]+"${record[@]}"}; do
    if [[ $arg == *$'\n'* ]]; then
      echo 'shellvault: use: arguments cannot contain a line break' >&2
      return 2
    fi
  done
  for arg in ${record[@]+"${record[@]}"}; do
    if ((n++)); then
      refresh=$refresh$'\n'$arg
    else
      refresh=$arg
    fi
  done
  # stdout only: the MFA prompt goes to /dev/tty, errors to stderr. `--` keeps a profile that
  # starts with a dash a profile.
  out=$(command shellvault env --format bash ${flags[@]+"${flags[@]}"} -- "$profile") || return
  _shellvault_remember
  eval "$out"
  export SHELLVAULT_REFRESH_ARGS="$refresh"
  # Credentials loaded by hand belong to this shell now, not to direnv.
  unset -v SHELLVAULT_DIRENV
  _shellvault_refresh_tried=
  _shellvault_update
}

# Usage: _shellvault_remember
#
# Saves the current value (or absence) of every variable `env` may change, unless a `use` already
# did: after `use a; use b; unuse` the shell is back to what it had before `use a`.
#
# Example:
#
#     _shellvault_remember && eval "$(command shellvault env --format bash private)"
#
_shellvault_remember() {
  local name saved
  [[ -n ${_shellvault_remembered-} ]] && return 0
  for name in "${_shellvault_env_vars[@]}" "${_shellvault_own_vars[@]}"; do
    saved=_shellvault_saved_$name
    if [[ -n ${!name+set} ]]; then
      printf -v "$saved" '%s' "${!name}"
    else
      unset -v "$saved"
    fi
  done
  _shellvault_remembered=1
}

# Usage: _shellvault_unuse
#
# Takes out what `use` loaded: every variable `env` may change gets back the value it had before
# the first `use` (or is removed if it had none), and the memory is cleared. Credentials loaded
# another way (`eval` of `env`, `exec`, direnv, a parent shell) are simply removed.
#
# Example:
#
#     export AWS_PROFILE=default; shellvault use private_admin; shellvault unuse
#     echo "$AWS_PROFILE"   # default
#
_shellvault_unuse() {
  local name saved
  if (($#)); then
    echo 'shellvault: unuse takes no arguments' >&2
    return 2
  fi
  if [[ -n ${_shellvault_remembered-} ]]; then
    for name in "${_shellvault_env_vars[@]}" "${_shellvault_own_vars[@]}"; do
      saved=_shellvault_saved_$name
      if [[ -n ${!saved+set} ]]; then
        export "$name=${!saved}"
        unset -v "$saved"
      else
        unset -v "$name"
      fi
    done
    unset -v _shellvault_remembered
  elif [[ -n ${SHELLVAULT_PROFILE-} ]]; then
    for name in "${_shellvault_env_vars[@]}" "${_shellvault_own_vars[@]}"; do
      unset -v "$name"
    done
  else
    echo 'shellvault: unuse: no profile is in use' >&2
    return 1
  fi
  _shellvault_refresh_tried=
  _shellvault_update
}

# Usage: _shellvault_clock
#
# Sets _shellvault_now to the current Unix time without a fork where bash allows it:
# $EPOCHSECONDS (bash >= 5), printf's %(%s)T (bash 4.2-4.4); bash 3.2 has neither and runs date.
#
# Example:
#
#     _shellvault_clock; echo "$_shellvault_now"
#
if ((BASH_VERSINFO[0] >= 5)); then
  _shellvault_clock() {
    _shellvault_now=${EPOCHSECONDS-}
    [[ -n $_shellvault_now ]] || printf -v _shellvault_now '%(%s)T' -1
  }
elif ((BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 2)); then
  _shellvault_clock() { printf -v _shellvault_now '%(%s)T' -1; }
else
  _shellvault_clock() { _shellvault_now=$(date +%s); }
fi

# Usage: _shellvault_min_ttl
#
# Sets _shellvault_window to the refresh window in seconds, read from AWS_MIN_TTL the way
# shellvault reads it (digits are seconds; Go durations like 15m, 1h30m, 90s), 900 when unset or
# unreadable. Parsed with patterns, not arithmetic on the raw text (bash arithmetic would expand
# `a[$(cmd)]`), and remembered until AWS_MIN_TTL changes.
#
# Example:
#
#     AWS_MIN_TTL=1h30m; _shellvault_min_ttl; echo "$_shellvault_window"   # 5400
#
_shellvault_min_ttl() {
  local text=${AWS_MIN_TTL-} rest digits unit total=0
  if [[ -n ${_shellvault_window-} && $text == "${_shellvault_window_text-}" ]]; then
    return 0
  fi
  _shellvault_window_text=$text
  _shellvault_window=900
  [[ -n $text ]] || return 0
  if [[ $text != *[!0-9]* ]]; then
    _shellvault_window=$((10#$text))
    return 0
  fi
  rest=$text
  while [[ -n $rest ]]; do
    digits=${rest%%[!0-9]*}
    [[ -n $digits ]] || return 0
    rest=${rest#"$digits"}
    case $rest in
      ms*) unit=0 rest=${rest#ms} ;; # below a prompt's resolution
      h*) unit=3600 rest=${rest#h} ;;
      m*) unit=60 rest=${rest#m} ;;
      s*) unit=1 rest=${rest#s} ;;
      *) return 0 ;;
    esac
    total=$((total + 10#$digits * unit))
  done
  _shellvault_window=$total
}

# Usage: _shellvault_time_left SECONDS
#
# Sets _shellvault_left_text to SECONDS written the way `shellvault list` writes time left:
# 7h58m, 42m, 30s, or expired.
#
# Example:
#
#     _shellvault_time_left 2520; echo "$_shellvault_left_text"   # 42m
#
_shellvault_time_left() {
  local seconds=$1 minutes
  if ((seconds <= 0)); then
    _shellvault_left_text=expired
  elif ((seconds >= 3600)); then
    minutes=$((seconds % 3600 / 60))
    ((minutes < 10)) && minutes=0$minutes
    _shellvault_left_text=$((seconds / 3600))h${minutes}m
  elif ((seconds >= 60)); then
    _shellvault_left_text=$((seconds / 60))m
  else
    _shellvault_left_text=${seconds}s
  fi
}

# Usage: _shellvault_update
#
# Recomputes SHELLVAULT_PROMPT_TEXT from SHELLVAULT_PROFILE, SHELLVAULT_EXPIRES and the clock,
# with the format variables described at the top. Empty when no profile is active. Also sets
# _shellvault_due to 1 when the credentials are inside the refresh window (or expired).
#
# Example:
#
#     _shellvault_update; echo "$SHELLVAULT_PROMPT_TEXT"   # private_admin 42m
#
_shellvault_update() {
  local time= text left
  _shellvault_due=0
  if [[ -z ${SHELLVAULT_PROFILE-} ]]; then
    SHELLVAULT_PROMPT_TEXT=
    return 0
  fi
  if [[ -n ${SHELLVAULT_SERVER-} ]]; then
    # The server hands out fresh credentials by itself; there is no expiry to show.
    time=${SHELLVAULT_PROMPT_SERVER_MARK-server}
  elif [[ -n ${SHELLVAULT_EXPIRES-} && $SHELLVAULT_EXPIRES != *[!0-9]* ]]; then
    _shellvault_clock
    _shellvault_min_ttl
    left=$((10#$SHELLVAULT_EXPIRES - _shellvault_now))
    _shellvault_time_left "$left"
    time=$_shellvault_left_text
    if ((left <= _shellvault_window)); then
      _shellvault_due=1
      time=$time${SHELLVAULT_PROMPT_STALE_MARK-!}
    fi
  fi
  text=${SHELLVAULT_PROMPT_FORMAT-%p %t}
  # Quoted replacements: bash 5.2 would otherwise turn `&` into the matched text.
  text=${text//"%t"/"$time"}
  text=${text//"%p"/"$SHELLVAULT_PROFILE"}
  if [[ -z $time ]]; then
    # Long-term keys have no expiry: drop the separator left behind by an empty %t.
    text=${text%"${text##*[! ]}"}
  fi
  SHELLVAULT_PROMPT_TEXT=$text
}

# Usage: _shellvault_refresh
#
# Called by the hook when the credentials are due. Runs `env` again for SHELLVAULT_PROFILE with
# the flags in SHELLVAULT_REFRESH_ARGS (a cache hit if another shell already refreshed, else a
# mint, asking for an MFA code on the terminal if needed) and loads the result. Under direnv
# (SHELLVAULT_DIRENV=1) direnv owns the variables: only the cache entry is refreshed, and
# direnv's watch_file loads it at the next prompt. One attempt per (profile, expiry): a failure,
# or a result still inside the window, prints one message and then nothing until they change.
#
# Example:
#
#     AWS_MIN_TTL=59m _shellvault_hook   # a one-hour role is due at once
#
_shellvault_refresh() {
  local profile=$SHELLVAULT_PROFILE key out rest expires
  local -a args
  args=()
  key=$profile$'\n'${SHELLVAULT_EXPIRES-}
  [[ $key == "${_shellvault_refresh_tried-}" ]] && return 0
  _shellvault_refresh_tried=$key
  # One argument per line; empty lines in the middle are kept as empty arguments.
  rest=${SHELLVAULT_REFRESH_ARGS-}
  while [[ -n $rest ]]; do
    args+=("${rest%%$'\n'*}")
    if [[ $rest == *$'\n'* ]]; then
      rest=${rest#*$'\n'}
    else
      rest=
    fi
  done
  # AWS_MIN_TTL as the hook read it, so `env` sees the same window (a settings-file min_ttl
  # could otherwise make it answer with the credentials the hook finds due).
  if [[ ${SHELLVAULT_DIRENV-} == 1 ]]; then
    if out=$(AWS_MIN_TTL=$_shellvault_window command shellvault env --format json \
      ${args[@]+"${args[@]}"} -- "$profile"); then
      expires=${out#*\"SHELLVAULT_EXPIRES\": \"}
      expires=${expires%%\"*}
      if [[ $expires == "${SHELLVAULT_EXPIRES-}" ]]; then
        # `env` kept the old credentials: its early refresh failed (it said why).
        _shellvault_refresh_failed "$profile"
      elif [[ -n $expires && $expires != *[!0-9]* ]] &&
        ((10#$expires - _shellvault_now <= _shellvault_window)); then
        _shellvault_refresh_tried=$profile$'\n'$expires
        _shellvault_still_due "$profile"
      fi
    else
      _shellvault_refresh_failed "$profile"
    fi
    return 0
  fi
  if out=$(AWS_MIN_TTL=$_shellvault_window command shellvault env --format bash \
    ${args[@]+"${args[@]}"} -- "$profile"); then
    eval "$out"
    _shellvault_update
    if [[ $key == "${SHELLVAULT_PROFILE-}"$'\n'"${SHELLVAULT_EXPIRES-}" ]]; then
      # `env` kept the old credentials: its early refresh failed (it said why).
      _shellvault_refresh_failed "$profile"
    elif ((_shellvault_due)); then
      _shellvault_refresh_tried=${SHELLVAULT_PROFILE-}$'\n'${SHELLVAULT_EXPIRES-}
      _shellvault_still_due "$profile"
    fi
  else
    _shellvault_refresh_failed "$profile"
  fi
}

# Usage: _shellvault_refresh_failed PROFILE
#
# The one message after a failed refresh (shellvault's own error line comes just before it).
#
# Example:
#
#     _shellvault_refresh_failed private_admin
#
_shellvault_refresh_failed() {
  printf '%s\n' "shellvault: could not refresh $1; not trying again for these credentials (retry: shellvault use $1)" >&2
}

# Usage: _shellvault_still_due PROFILE
#
# The one message when a refresh worked but the new credentials are still inside the refresh
# window (AWS_MIN_TTL at least as long as the session), so refreshing again would only loop.
#
# Example:
#
#     _shellvault_still_due private_admin
#
_shellvault_still_due() {
  printf '%s\n' "shellvault: refreshed $1, but the new credentials expire within AWS_MIN_TTL; not refreshing them again" >&2
}

# Usage: _shellvault_hook
#
# The pre-prompt hook (last in PROMPT_COMMAND). Refreshes the credentials when they are due and
# keeps SHELLVAULT_PROMPT_TEXT current. While they are fresh it runs only builtins: no fork. It
# returns the status it found, so later PROMPT_COMMAND parts and PS1 still see the command's `$?`.
#
# Example:
#
#     PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}_shellvault_hook"
#
_shellvault_hook() {
  local status=$?
  _shellvault_update
  if ((_shellvault_due)) && [[ -z ${SHELLVAULT_SERVER-} && ${SHELLVAULT_AUTO_REFRESH-} != 0 ]]; then
    _shellvault_refresh
  fi
  return $status
}

# Usage: shellvault_prompt
#
# Prints the prompt segment (the text of SHELLVAULT_PROMPT_TEXT, computed now), without a line
# break, nothing when no profile is active. `PS1='$(shellvault_prompt)'` forks a subshell per
# prompt; `PS1='${SHELLVAULT_PROMPT_TEXT}'` shows the same text for free.
#
# Example:
#
#     echo "AWS: $(shellvault_prompt)"
#
shellvault_prompt() {
  _shellvault_update
  printf '%s' "$SHELLVAULT_PROMPT_TEXT"
}

# Usage: _shellvault_complete
#
# The bash completion function for `shellvault` (registered with `complete -F`): subcommands,
# each one's flags, --format values, shells for `init`, and profile names from
# `shellvault list --format lines`. Candidates are matched by prefix here rather than with
# `compgen -W`, which would expand `$(...)` inside a profile name.
#
# Example:
#
#     COMP_WORDS=(shellvault use priv); COMP_CWORD=2; _shellvault_complete; echo "${COMPREPLY[@]}"
#
_shellvault_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]-} prev= command= word i out line
  local -a candidates
  candidates=()
  COMPREPLY=()
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -- && $command == exec ]]; then
      return 0 # the command to run: bash's default completion (complete -o default)
    fi
    if [[ -z $command && $word != -* ]]; then
      command=$word
    fi
  done
  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      candidates=(--debug --version --help)
    else
      candidates=("${_shellvault_commands[@]}")
    fi
  else
    case $prev in
      --format)
        case $command in
          env) candidates=(bash zsh sh fish powershell dotenv json process) ;;
          export) candidates=(env export-env json ini) ;;
          list | ls) candidates=(table json lines alfred) ;;
        esac
        ;;
      -d | --duration) candidates=(15m 1h 8h 12h) ;;
      -t | --mfa-token | --region | --path | --browser | --as) ;;
      *)
        if [[ $cur == -* ]]; then
          case $command in
            add) candidates=(--env --no-config) ;;
            remove) candidates=(--force) ;;
            list | ls) candidates=(--format --json) ;;
            exec) candidates=(--mfa-token --duration --no-session --region --server) ;;
            use) candidates=(--mfa-token --duration --no-session --region) ;;
            login) candidates=(--path --stdout --browser --isolate --mfa-token --duration --no-session --region) ;;
            env) candidates=(--format --unset --mfa-token --duration --no-session --region) ;;
            export) candidates=(--format --mfa-token --duration --no-session --region) ;;
          esac
          candidates+=(--help)
        else
          case $command in
            init) candidates=(bash zsh fish) ;;
            direnv) candidates=(install print) ;;
            config) [[ $prev == config ]] && candidates=(process) ;;
            add | remove | exec | env | export | clear | use | login)
              out=$(command shellvault list --format lines 2>/dev/null)
              while [[ -n $out ]]; do
                candidates+=("${out%%$'\n'*}")
                if [[ $out == *$'\n'* ]]; then out=${out#*$'\n'}; else out=; fi
              done
              ;;
          esac
        fi
        ;;
    esac
  fi
  for line in ${candidates[@]+"${candidates[@]}"}; do
    [[ $line == "$cur"* ]] && COMPREPLY+=("$line")
  done
  return 0
}

complete -o default -F _shellvault_complete shellvault

# Run the hook last, after anything (direnv's hook, say) that may change the variables it reads.
# A newline separates it from the existing command, whatever that ends with. A PROMPT_COMMAND
# that is already an array of several commands (bash >= 5.1) gets one more element instead.
if [[ "${PROMPT_COMMAND[*]-}" != *_shellvault_hook* ]]; then
  if [[ -n ${PROMPT_COMMAND+set} ]] && ((${#PROMPT_COMMAND[@]} > 1)); then
    PROMPT_COMMAND+=(_shellvault_hook)
  else
    PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}_shellvault_hook"
  fi
fi
