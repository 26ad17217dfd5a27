# shellvault's direnv library: `use aws_profile PROFILE` in an .envrc.
#
# Install with `shellvault direnv install` (it lands in ${XDG_CONFIG_HOME:-~/.config}/direnv/lib/,
# which direnv sources before every .envrc), or see it with `shellvault direnv print`.
# Reference: docs/direnv.md in the shellvault repository.
#
# Runs inside direnv's bash (3.2 or newer), possibly under `strict_env` (errexit, nounset,
# pipefail): every expansion has a default and every command that may fail is tested.

# Usage: use_aws_profile PROFILE [-d DUR] [-n] [--region R]
#
# Loads short-lived AWS credentials for PROFILE into the project's environment: the same
# variables `shellvault env PROFILE` sets, plus SHELLVAULT_DIRENV=1 and SHELLVAULT_REFRESH_ARGS
# (the flags after PROFILE, one per line) for shellvault's prompt hook. It watches the cache
# entry behind those credentials, so a refresh made anywhere (another shell, the prompt hook,
# `shellvault exec`) makes direnv load the new ones at the next prompt, and logs one status line
# with the time left. An MFA code, when one is needed, is asked on the terminal. On a warm cache
# it sources a file shellvault rendered earlier instead of starting Python, after checking with
# shell builtins only that the file still says what `shellvault direnv env` would print
# (SHELLVAULT_DIRENV_FAST=0 turns that off). On failure it logs shellvault's one-line message
# with log_error, exports nothing and returns 0, so the rest of the .envrc still runs, even
# under strict_env.
#
# Example (.envrc):
#
#    use aws_profile private_admin
#    use aws_profile private_admin -d 12h --region eu-west-1
#
use_aws_profile() {
  local profile=${1-} duration= no_session= region= _shellvault_direnv_name=
  local usage='usage: use aws_profile PROFILE [-d DUR] [-n] [--region R]'
  if [[ -z $profile || $profile == -* ]]; then
    log_error "use_aws_profile: $usage"
    return 0
  fi
  shift
  while (($#)); do
    case $1 in
      -d | --duration | --region)
        if (($# < 2)); then
          log_error "use_aws_profile: $1 needs a value; $usage"
          return 0
        fi
        if [[ $1 == --region ]]; then region=$2; else duration=$2; fi
        shift 2
        ;;
      --duration=*) duration=${1#*=} && shift ;;
      --region=*) region=${1#*=} && shift ;;
      -n | --no-session) no_session=1 && shift ;;
      -t | --mfa-token | --mfa-token=*)
        # A code in a file that runs on every `cd` would be stale after 30 seconds.
        log_error "use_aws_profile: no -t here: the MFA code is asked on the terminal, or set mfa_process in the profile"
        return 0
        ;;
      *)
        log_error "use_aws_profile: unknown argument $1; $usage"
        return 0
        ;;
    esac
  done

  if [[ ${SHELLVAULT_DIRENV_FAST-} != 0 ]] &&
    _shellvault_direnv_fast_name "$profile" "$duration" "$no_session" "$region" &&
    _shellvault_direnv_fast "$_shellvault_direnv_name"; then
    return 0
  fi
  # The fast path said nothing: whatever made it miss, Python decides (and renders a new file).
  _shellvault_direnv_slow "$profile" "$duration" "$no_session" "$region" || true
  return 0
}

# Usage: _shellvault_direnv_fast_name PROFILE DURATION NO_SESSION REGION
#
# Sets _shellvault_direnv_name to the name of the file `shellvault direnv env` renders for these
# arguments (`v1,PROFILE[,dDURATION][,n][,rREGION].sh`) and returns 0, or returns 1 when one of
# them holds a character outside A-Z a-z 0-9 _ . @ + - (those always take the Python path). The
# characters are listed one by one because bracket ranges follow the locale in older bash.
# shellvault/direnv.py computes the same name; the safe set keeps it injective (no `,`) and a
# plain file name (no `/`).
#
# Example:
#
#    _shellvault_direnv_fast_name private_admin 12h '' eu-west-1   # v1,private_admin,d12h,reu-west-1.sh
#
_shellvault_direnv_fast_name() {
  local part
  for part in "$1" "$2" "$4"; do
    if [[ $part == *[!abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@+-]* ]]; then
      return 1
    fi
  done
  _shellvault_direnv_name="v1,$1${2:+,d$2}${3:+,n}${4:+,r$4}.sh"
  ((${#_shellvault_direnv_name} <= 200))
}

# Usage: _shellvault_direnv_cache_dir
#
# Sets _shellvault_direnv_cache to shellvault's private session cache folder, found the way
# shellvault/locations.py finds it: SHELLVAULT_CACHE_DIR, else $XDG_RUNTIME_DIR/shellvault when
# that runtime folder is ours, else the user cache folder plus /sessions. Builtins only. Returns
# 1 when it cannot tell without Python (a `~user` path, no HOME); a cache_dir set in the settings
# file is not read here, so the fast path then simply finds no file.
#
# Example:
#
#    _shellvault_direnv_cache_dir && echo "$_shellvault_direnv_cache"
#
_shellvault_direnv_cache_dir() {
  local dir=${SHELLVAULT_CACHE_DIR-} base
  if [[ -n $dir ]]; then
    case $dir in
      '~') dir=${HOME-} ;;
      '~/'*) dir=${HOME-}/${dir#'~/'} ;;
      '~'*) return 1 ;;
    esac
  elif [[ ${XDG_RUNTIME_DIR-} == /* && -d $XDG_RUNTIME_DIR && -O $XDG_RUNTIME_DIR ]]; then
    # Python also wants no access for others; a folder failing only that has no file of ours.
    dir=$XDG_RUNTIME_DIR/shellvault
  else
    [[ -n ${HOME-} ]] || return 1
    if [[ ${XDG_CACHE_HOME-} == /* ]]; then
      base=$XDG_CACHE_HOME
    elif [[ -z ${XDG_CACHE_HOME-} && ${OSTYPE-} == darwin* ]]; then
      base=$HOME/Library/Caches # platformdirs' choice on macOS
    else
      base=$HOME/.cache
    fi
    dir=$base/shellvault/sessions
  fi
  [[ -n $dir ]] || return 1
  _shellvault_direnv_cache=$dir
}

# Usage: _shellvault_direnv_now
#
# Sets _shellvault_direnv_now to the current Unix time: $EPOCHSECONDS in bash 5, printf's %(%s)T
# in bash 4.2 and later (neither forks), `date +%s` in older bash (macOS's 3.2). Returns 1
# unless the result is a number: an empty "now" would compare as 0, before every deadline.
#
# Example:
#
#    _shellvault_direnv_now && echo "$_shellvault_direnv_now"
#
_shellvault_direnv_now() {
  _shellvault_direnv_now=
  if ((BASH_VERSINFO[0] >= 5)); then
    # Empty if someone unset it (it then loses its magic).
    _shellvault_direnv_now=${EPOCHSECONDS-}
  fi
  if [[ -z $_shellvault_direnv_now ]]; then
    if ((BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 2))); then
      printf -v _shellvault_direnv_now '%(%s)T' -1
    else
      _shellvault_direnv_now=$(date +%s) || return 1
    fi
  fi
  [[ -n $_shellvault_direnv_now && $_shellvault_direnv_now != *[!0123456789]* ]]
}

# Usage: _shellvault_direnv_time_left SECONDS
#
# Sets _shellvault_direnv_left to SECONDS written the way shellvault writes a countdown:
# `7h58m`, `42m`, `30s` or `expired` (credentials.format_time_left in Python).
#
# Example:
#
#    _shellvault_direnv_time_left 3540 && echo "$_shellvault_direnv_left"   # 59m
#
_shellvault_direnv_time_left() {
  local s=$1
  if ((s <= 0)); then
    _shellvault_direnv_left=expired
  elif ((s >= 3600)); then
    printf -v _shellvault_direnv_left '%dh%02dm' $((s / 3600)) $((s % 3600 / 60))
  elif ((s >= 60)); then
    _shellvault_direnv_left=$((s / 60))m
  else
    _shellvault_direnv_left=${s}s
  fi
}

# Usage: _shellvault_direnv_fast FILE_NAME
#
# The warm-cache path: loads the credentials from the file `shellvault direnv env` rendered into
# the `direnv` folder of the private session cache, with no fork but direnv's own watch_file,
# and returns 0; returns 1, having changed nothing, unless all of these hold:
#   - the cache folder, its `direnv` folder and the file are ours (-O) and not symlinks, so its
#     text was written by us (both folders are 0700; docs/direnv.md has the argument);
#   - the cache entry it was rendered from exists, is ours and is not newer than the file (a
#     refresh anywhere rewrites that entry);
#   - the AWS config and shellvault's settings file exist as they did and are not newer;
#   - every variable that changes what shellvault prints has the value it had (the file lists
#     them: AWS_CONFIG_FILE, the TTLs, endpoints, HOME, XDG folders, ...);
#   - now is before the refresh deadline (expiry minus the refresh window) in the file.
# Sourcing the file only assigns _shellvault_direnv_* locals and defines
# _shellvault_direnv_apply, which is run after the checks.
#
# Example:
#
#    _shellvault_direnv_fast 'v1,private_admin.sh' || echo "cache miss"
#
_shellvault_direnv_fast() {
  local cache folder file i name path
  # What the helpers set and the file assigns, kept local to this call.
  local _shellvault_direnv_cache= _shellvault_direnv_now= _shellvault_direnv_left=
  local _shellvault_direnv_format= _shellvault_direnv_key= _shellvault_direnv_entry=
  local _shellvault_direnv_deadline= _shellvault_direnv_expires= _shellvault_direnv_until=
  local _shellvault_direnv_profile=
  local -a _shellvault_direnv_files _shellvault_direnv_env
  _shellvault_direnv_files=()
  _shellvault_direnv_env=()
  _shellvault_direnv_cache_dir || return 1
  cache=$_shellvault_direnv_cache
  folder=$cache/direnv
  file=$folder/$1
  [[ -f $file && -O $file && ! -L $file ]] || return 1
  [[ -O $folder && ! -L $folder && -O $cache && ! -L $cache ]] || return 1
  unset -f _shellvault_direnv_apply
  # shellcheck disable=SC1090
  source "$file" || return 1
  [[ $_shellvault_direnv_format == 1 ]] || return 1
  path=$_shellvault_direnv_entry
  [[ -f $path && -O $path && ! $path -nt $file ]] || return 1
  for ((i = 0; i < ${#_shellvault_direnv_files[@]}; i += 2)); do
    path=${_shellvault_direnv_files[i]}
    if [[ ${_shellvault_direnv_files[i + 1]} == 1 ]]; then
      [[ -e $path && ! $path -nt $file ]] || return 1
    else
      [[ ! -e $path ]] || return 1
    fi
  done
  for ((i = 0; i < ${#_shellvault_direnv_env[@]}; i += 2)); do
    name=${_shellvault_direnv_env[i]}
    # "=value" when set (even to ""), "" when unset: the two never look alike.
    [[ ${!name+=}${!name-} == "${_shellvault_direnv_env[i + 1]}" ]] || return 1
  done
  _shellvault_direnv_now || return 1
  ((_shellvault_direnv_now < _shellvault_direnv_deadline)) || return 1
  declare -F _shellvault_direnv_apply >/dev/null || return 1
  _shellvault_direnv_apply
  unset -f _shellvault_direnv_apply
  _shellvault_direnv_time_left $((_shellvault_direnv_expires - _shellvault_direnv_now))
  log_status "aws_profile $_shellvault_direnv_profile: $_shellvault_direnv_left left (until $_shellvault_direnv_until)"
}

# Usage: _shellvault_direnv_slow PROFILE DURATION NO_SESSION REGION
#
# The Python path: runs `shellvault direnv env`, which mints when needed (asking for an MFA code
# on the terminal), prints the statements to load, and renders the fast-path file for next
# time. Its output is evaluated only when it succeeded, so a failure exports nothing; then
# shellvault's one `shellvault: ...` line (caught in a temporary file: stderr is the only place
# it goes) is logged with log_error, the AWS config is watched (fixing it re-runs the .envrc),
# and the status is 1. Warnings printed on success are passed on with log_status.
#
# Example:
#
#    _shellvault_direnv_slow private_admin '' '' '' || echo "failed, and said why"
#
_shellvault_direnv_slow() {
  local -a args
  local errors out status=0 line message= last=
  args=()
  [[ -z $2 ]] || args+=("--duration=$2")
  [[ -z $3 ]] || args+=(--no-session)
  [[ -z $4 ]] || args+=("--region=$4")
  if ! errors=$(mktemp "${TMPDIR:-/tmp}/shellvault-direnv.XXXXXX"); then
    log_error "use_aws_profile: cannot create a temporary file in ${TMPDIR:-/tmp}"
    return 1
  fi
  # `command`: never a shell function of that name. `--` keeps PROFILE a profile. `>|`: the
  # file exists already, and an .envrc or direnvrc may have set noclobber.
  out=$(command shellvault direnv env ${args[@]+"${args[@]}"} -- "$1" 2>|"$errors") || status=$?
  while IFS= read -r line || [[ -n $line ]]; do
    if ((status)); then
      [[ $line != shellvault:* ]] || message=$line
      [[ -z $line ]] || last=$line
    elif [[ -n $line ]]; then
      log_status "$line"
    fi
  done <"$errors"
  rm -f -- "$errors" || true
  if ((status == 0)); then
    eval "$out"
    return 0
  fi
  if ((status == 127)) && [[ -z $message ]]; then
    message="shellvault: command not found on PATH ($PATH); install it with \`pip install shellvault\`"
  fi
  # Not shellvault's own words (a crash, a signal): its last line is the best clue there is.
  log_error "${message:-shellvault: direnv env $1 failed (status $status)${last:+: $last}}"
  watch_file "${AWS_CONFIG_FILE:-${HOME-}/.aws/config}" || true
  return 1
}
