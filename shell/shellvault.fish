# shellvault shell integration for fish.
#
# Load it from ~/.config/fish/config.fish:
#
#     shellvault init fish | source
#
# What it adds to the shell:
#   - `shellvault use PROFILE` / `shellvault unuse`: load credentials into this shell and take
#     them out again (the `shellvault` function below; every other subcommand runs the binary);
#   - a fish_prompt event handler that keeps SHELLVAULT_PROMPT_TEXT current and refreshes the
#     credentials in place when they enter the refresh window;
#   - `shellvault_prompt`, which prints the same text, for use inside fish_prompt:
#         function fish_prompt; printf '%s %s> ' (shellvault_prompt) (prompt_pwd); end
#   - completion of subcommands, flags and profile names.
#
# Settings (read at every prompt, so they can change at any time):
#   SHELLVAULT_PROMPT_FORMAT       segment format; %p = profile, %t = time left (default "%p %t")
#   SHELLVAULT_PROMPT_STALE_MARK   appended to the time inside the refresh window (default "!")
#   SHELLVAULT_PROMPT_SERVER_MARK  shown instead of the time under `exec --server` (default "server")
#   SHELLVAULT_AUTO_REFRESH=0      never refresh from the prompt hook
#   AWS_MIN_TTL                    the refresh window: 900, 15m, 1h30m... (default 15m)
#
# Supported: fish >= 3.1 (for `VAR=value command` and `set -a`; no `string` subcommand newer
# than that). fish has no clock builtin: on Linux the clock is /proc/uptime (read by the `read`
# builtin) plus an offset taken once with `date` when this file is loaded, so a prompt forks
# nothing; elsewhere it is `date +%s`, one fork per prompt while a profile is active.
#
# Nothing here builds shell code from strings: the only `source` is of `shellvault env` output,
# whose quoting is proven inert for any value.

# The variables `shellvault env` may set or unset: EXPORTED + CONFLICTING in
# shellvault/output/changes.py (a test keeps the lists equal). `use` remembers their values.
set -g _shellvault_env_vars \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION \
    AWS_REGION AWS_DEFAULT_REGION SHELLVAULT_PROFILE SHELLVAULT_EXPIRES AWS_VAULT \
    AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN AWS_SDK_LOAD_CONFIG AWS_CREDENTIAL_FILE
# The integration's own variables, shared with direnv's `use aws_profile`: remembered and
# restored the same way, so `unuse` inside a direnv folder gives direnv its state back.
set -g _shellvault_own_vars SHELLVAULT_REFRESH_ARGS SHELLVAULT_DIRENV

set -g _shellvault_refresh_tried ''
set -g _shellvault_due 0
set -g SHELLVAULT_PROMPT_TEXT ''

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
function shellvault --description 'shellvault, with use/unuse for this shell'
    set -l debug
    # `shellvault --debug use P`: the global flag goes to the `env` that `use` runs.
    if test "$argv[1]" = --debug; and contains -- "$argv[2]" use unuse
        set debug 1
        set -e argv[1]
    end
    switch "$argv[1]"
        case use
            set -e argv[1]
            if set -q debug[1]
                SHELLVAULT_DEBUG=1 _shellvault_use $argv
            else
                _shellvault_use $argv
            end
        case unuse
            set -e argv[1]
            _shellvault_unuse $argv
        case '*'
            command shellvault $argv
    end
end

# Usage: _shellvault_use PROFILE [-t CODE] [-d DUR] [-n] [--region R]
#
# Loads PROFILE's credentials into this shell, exactly what `shellvault env PROFILE | source`
# does, plus: the values it replaces are remembered for `unuse` (once: a second `use` keeps the
# first memory), and the flags are kept in SHELLVAULT_REFRESH_ARGS, one per line, for the prompt
# hook's refresh; `-t` is left out because an MFA code is good for one use only. On any failure
# the shell keeps exactly what it had and the status is non-zero.
#
# Example:
#
#     shellvault use private_admin --region eu-west-1
#
function _shellvault_use
    set -l profile
    set -l flags
    set -l record
    set -l usage 'usage: shellvault use PROFILE [-t CODE] [-d DUR] [-n] [--region R]'
    while set -q argv[1]
        set -l arg $argv[1]
        set -e argv[1]
        # The first matching case wins, so exact flags come before their attached forms.
        switch $arg
            case -h --help
                echo 'Usage: shellvault use PROFILE [-t CODE] [-d DUR] [-n] [--region R]'
                echo 'Load PROFILE into this shell; `shellvault unuse` takes it out again.'
                return 0
            case -t --mfa-token
                if not set -q argv[1]
                    echo "shellvault: use: $arg needs a value" >&2
                    return 2
                end
                set -a flags $arg $argv[1]
                set -e argv[1]
            case '-t*' '--mfa-token=*'
                set -a flags $arg
            case -d --duration --region
                if not set -q argv[1]
                    echo "shellvault: use: $arg needs a value" >&2
                    return 2
                end
                set -a flags $arg $argv[1]
                set -a record $arg $argv[1]
                set -e argv[1]
            case '-d*' '--duration=*' '--region=*' -n --no-session
                set -a flags $arg
                set -a record $arg
            case --
                if test (count $argv) -ne 1; or set -q profile[1]
                    echo "shellvault: use: $usage" >&2
                    return 2
                end
                set profile $argv[1]
                set -e argv[1]
            case '-*'
                echo "shellvault: use: unknown option $arg; $usage" >&2
                return 2
            case '*'
                if set -q profile[1]
                    echo "shellvault: use: one PROFILE only (got $profile and $arg)" >&2
                    return 2
                end
                set profile $arg
        end
    end
    if not set -q profile[1]; or test -z "$profile"
        echo "shellvault: use needs a PROFILE; $usage" >&2
        return 2
    end
    # SHELLVAULT_REFRESH_ARGS is one argument per line: a line break inside one cannot be kept.
    for arg in $profile $record
        if string match -q -- "*"\n"*" $arg
            echo 'shellvault: use: arguments cannot contain a line break' >&2
            return 2
        end
    end
    # stdout only: the MFA prompt goes to /dev/tty, errors to stderr. `--` keeps a profile that
    # starts with a dash a profile. The output is one statement per line.
    set -l out (command shellvault env --format fish $flags -- $profile)
    or return
    _shellvault_clock_sync
    _shellvault_remember
    printf '%s\n' $out | source
    set -l joined ''
    set -l n 0
    for arg in $record
        if test $n -eq 0
            set joined $arg
        else
            set joined "$joined"\n"$arg"
        end
        set n (math $n + 1)
    end
    set -gx SHELLVAULT_REFRESH_ARGS "$joined"
    # Credentials loaded by hand belong to this shell now, not to direnv.
    set -q -g SHELLVAULT_DIRENV; and set -e -g SHELLVAULT_DIRENV
    set -g _shellvault_refresh_tried ''
    _shellvault_update
end

# Usage: _shellvault_remember
#
# Saves the current value (or absence) of every variable `env` may change, unless a `use` already
# did: after `use a; use b; unuse` the shell is back to what it had before `use a`. Global scope
# only, the scope `env` output changes (never universal variables).
#
# Example:
#
#     _shellvault_remember; and shellvault env --format fish private | source
#
function _shellvault_remember
    set -q _shellvault_remembered; and return 0
    for name in $_shellvault_env_vars $_shellvault_own_vars
        set -l saved _shellvault_saved_$name
        if set -q -g $name
            set -g $saved $$name
        else
            set -q -g $saved; and set -e -g $saved
        end
    end
    set -g _shellvault_remembered 1
end

# Usage: _shellvault_unuse
#
# Takes out what `use` loaded: every variable `env` may change gets back the value it had before
# the first `use` (or is removed if it had none), and the memory is cleared. Credentials loaded
# another way (`env | source`, `exec`, direnv, a parent shell) are simply removed.
#
# Example:
#
#     set -gx AWS_PROFILE default; shellvault use private_admin; shellvault unuse
#     echo $AWS_PROFILE   # default
#
function _shellvault_unuse
    if set -q argv[1]
        echo 'shellvault: unuse takes no arguments' >&2
        return 2
    end
    if set -q _shellvault_remembered
        for name in $_shellvault_env_vars $_shellvault_own_vars
            set -l saved _shellvault_saved_$name
            if set -q -g $saved
                set -gx $name $$saved
                set -e -g $saved
            else
                set -q -g $name; and set -e -g $name
            end
        end
        set -e -g _shellvault_remembered
    else if test -n "$SHELLVAULT_PROFILE"
        for name in $_shellvault_env_vars $_shellvault_own_vars
            set -q -g $name; and set -e -g $name
        end
    else
        echo 'shellvault: unuse: no profile is in use' >&2
        return 1
    end
    set -g _shellvault_refresh_tried ''
    _shellvault_update
end

# Usage: _shellvault_clock
#
# Sets _shellvault_now to the current Unix time. On Linux: seconds since boot from /proc/uptime
# (the `read` builtin, no fork) plus the boot time measured once when this file was loaded;
# elsewhere `date +%s`.
#
# Example:
#
#     _shellvault_clock; echo $_shellvault_now
#
if test -r /proc/uptime
    function _shellvault_clock
        read -l uptime idle </proc/uptime
        set -g _shellvault_now (math $_shellvault_boot + (string replace -r '\..*' '' -- $uptime))
    end
else
    function _shellvault_clock
        set -g _shellvault_now (date +%s)
    end
end

# Usage: _shellvault_clock_sync
#
# Measures the boot time _shellvault_clock adds to /proc/uptime (one `date`). Run when this file
# is loaded and again whenever `use` or a refresh runs shellvault anyway, so a wall clock that
# was set since (NTP stepping it, say) is caught up without a fork at any prompt.
#
# Example:
#
#     _shellvault_clock_sync; _shellvault_clock; echo $_shellvault_now
#
function _shellvault_clock_sync
    test -r /proc/uptime; or return 0
    read -l uptime idle </proc/uptime
    set -g _shellvault_boot (math (date +%s) - (string replace -r '\..*' '' -- $uptime))
end
_shellvault_clock_sync

# Usage: _shellvault_min_ttl
#
# Sets _shellvault_window to the refresh window in seconds, read from AWS_MIN_TTL the way
# shellvault reads it (digits are seconds; Go durations like 15m, 1h30m, 90s), 900 when unset or
# unreadable; remembered until AWS_MIN_TTL changes.
#
# Example:
#
#     set AWS_MIN_TTL 1h30m; _shellvault_min_ttl; echo $_shellvault_window   # 5400
#
function _shellvault_min_ttl
    set -l text "$AWS_MIN_TTL"
    if set -q _shellvault_window; and test "$text" = "$_shellvault_window_text"
        return 0
    end
    set -g _shellvault_window_text $text
    set -g _shellvault_window 900
    if string match -qr '^[0-9]+$' -- $text
        set -g _shellvault_window (math $text)
    else if string match -qr '^([0-9]+(ms|h|m|s))+$' -- $text
        set -l total 0
        for part in (string match -ar '[0-9]+(?:ms|h|m|s)' -- $text)
            set -l digits (string replace -r '[a-z]+$' '' -- $part)
            switch (string replace -r '^[0-9]+' '' -- $part)
                case h
                    set total (math $total + $digits '*' 3600)
                case m
                    set total (math $total + $digits '*' 60)
                case s
                    set total (math $total + $digits)
            end
        end
        set -g _shellvault_window $total
    end
end

# Usage: _shellvault_time_left SECONDS
#
# Sets _shellvault_left_text to SECONDS written the way `shellvault list` writes time left:
# 7h58m, 42m, 30s, or expired.
#
# Example:
#
#     _shellvault_time_left 2520; echo $_shellvault_left_text   # 42m
#
function _shellvault_time_left --argument-names seconds
    if test $seconds -le 0
        set -g _shellvault_left_text expired
    else if test $seconds -ge 3600
        set -l minutes (math "floor($seconds % 3600 / 60)")
        test $minutes -lt 10; and set minutes 0$minutes
        set -g _shellvault_left_text (math "floor($seconds / 3600)")h$minutes"m"
    else if test $seconds -ge 60
        set -g _shellvault_left_text (math "floor($seconds / 60)")m
    else
        set -g _shellvault_left_text $seconds"s"
    end
end

# Usage: _shellvault_update
#
# Recomputes SHELLVAULT_PROMPT_TEXT from SHELLVAULT_PROFILE, SHELLVAULT_EXPIRES and the clock,
# with the format variables described at the top. Empty when no profile is active. Also sets
# _shellvault_due to 1 when the credentials are inside the refresh window (or expired).
#
# Example:
#
#     _shellvault_update; echo $SHELLVAULT_PROMPT_TEXT   # private_admin 42m
#
function _shellvault_update
    set -g _shellvault_due 0
    if test -z "$SHELLVAULT_PROFILE"
        set -g SHELLVAULT_PROMPT_TEXT ''
        return 0
    end
    set -l time ''
    if test -n "$SHELLVAULT_SERVER"
        # The server hands out fresh credentials by itself; there is no expiry to show.
        set time server
        set -q SHELLVAULT_PROMPT_SERVER_MARK; and set time "$SHELLVAULT_PROMPT_SERVER_MARK"
    else if string match -qr '^[0-9]+$' -- "$SHELLVAULT_EXPIRES"
        _shellvault_clock
        _shellvault_min_ttl
        set -l left (math $SHELLVAULT_EXPIRES - $_shellvault_now)
        _shellvault_time_left $left
        set time $_shellvault_left_text
        if test $left -le $_shellvault_window
            set -g _shellvault_due 1
            set -l mark '!'
            set -q SHELLVAULT_PROMPT_STALE_MARK; and set mark "$SHELLVAULT_PROMPT_STALE_MARK"
            set time "$time$mark"
        end
    end
    set -l text '%p %t'
    set -q SHELLVAULT_PROMPT_FORMAT; and set text "$SHELLVAULT_PROMPT_FORMAT"
    set text (string replace -a -- '%t' "$time" "$text")
    set text (string replace -a -- '%p' "$SHELLVAULT_PROFILE" "$text")
    if test -z "$time"
        # Long-term keys have no expiry: drop the separator left behind by an empty %t.
        set text (string replace -r -- ' +$' '' "$text")
    end
    set -g SHELLVAULT_PROMPT_TEXT "$text"
end

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
#     set -gx AWS_MIN_TTL 59m; _shellvault_hook   # a one-hour role is due at once
#
function _shellvault_refresh
    set -l profile "$SHELLVAULT_PROFILE"
    set -l key "$profile"\n"$SHELLVAULT_EXPIRES"
    test "$key" = "$_shellvault_refresh_tried"; and return 0
    set -g _shellvault_refresh_tried $key
    _shellvault_clock_sync
    # One argument per line, empty ones included.
    set -l args
    test -n "$SHELLVAULT_REFRESH_ARGS"; and set args (string split \n -- "$SHELLVAULT_REFRESH_ARGS")
    # AWS_MIN_TTL as the hook read it, so `env` sees the same window (a settings-file min_ttl
    # could otherwise make it answer with the credentials the hook finds due).
    if test "$SHELLVAULT_DIRENV" = 1
        set -l out (AWS_MIN_TTL=$_shellvault_window command shellvault env --format json $args -- $profile)
        if test $status -eq 0
            set -l expires (string match -r '"SHELLVAULT_EXPIRES": "([0-9]+)"' -- $out)[2]
            if test "$expires" = "$SHELLVAULT_EXPIRES"
                # `env` kept the old credentials: its early refresh failed (it said why).
                _shellvault_refresh_failed $profile
            else if test -n "$expires"; and test (math $expires - $_shellvault_now) -le $_shellvault_window
                set -g _shellvault_refresh_tried "$profile"\n"$expires"
                _shellvault_still_due $profile
            end
        else
            _shellvault_refresh_failed $profile
        end
        return 0
    end
    set -l out (AWS_MIN_TTL=$_shellvault_window command shellvault env --format fish $args -- $profile)
    if test $status -eq 0
        printf '%s\n' $out | source
        _shellvault_update
        if test "$key" = "$SHELLVAULT_PROFILE"\n"$SHELLVAULT_EXPIRES"
            # `env` kept the old credentials: its early refresh failed (it said why).
            _shellvault_refresh_failed $profile
        else if test $_shellvault_due = 1
            set -g _shellvault_refresh_tried "$SHELLVAULT_PROFILE"\n"$SHELLVAULT_EXPIRES"
            _shellvault_still_due $profile
        end
    else
        _shellvault_refresh_failed $profile
    end
end

# Usage: _shellvault_refresh_failed PROFILE
#
# The one message after a failed refresh (shellvault's own error line comes just before it).
#
# Example:
#
#     _shellvault_refresh_failed private_admin
#
function _shellvault_refresh_failed --argument-names profile
    echo "shellvault: could not refresh $profile; not trying again for these credentials (retry: shellvault use $profile)" >&2
end

# Usage: _shellvault_still_due PROFILE
#
# The one message when a refresh worked but the new credentials are still inside the refresh
# window (AWS_MIN_TTL at least as long as the session), so refreshing again would only loop.
#
# Example:
#
#     _shellvault_still_due private_admin
#
function _shellvault_still_due --argument-names profile
    echo "shellvault: refreshed $profile, but the new credentials expire within AWS_MIN_TTL; not refreshing them again" >&2
end

# Usage: _shellvault_hook (runs on the fish_prompt event)
#
# Refreshes the credentials when they are due and keeps SHELLVAULT_PROMPT_TEXT current, before
# fish_prompt runs. While they are fresh it runs only builtins (and, on Linux, no `date`): no
# fork. fish keeps $status across event handlers, so fish_prompt still sees the command's.
#
# Example:
#
#     _shellvault_hook; echo $SHELLVAULT_PROMPT_TEXT
#
function _shellvault_hook --on-event fish_prompt
    _shellvault_update
    if test $_shellvault_due = 1; and test -z "$SHELLVAULT_SERVER"; and test "$SHELLVAULT_AUTO_REFRESH" != 0
        _shellvault_refresh
    end
end

# Usage: shellvault_prompt
#
# Prints the prompt segment (SHELLVAULT_PROMPT_TEXT, computed now) without a line break, nothing
# when no profile is active. In fish a command substitution of a function does not fork, so
# `(shellvault_prompt)` inside fish_prompt is free.
#
# Example:
#
#     function fish_prompt; printf '[%s] > ' (shellvault_prompt); end
#
function shellvault_prompt --description 'the shellvault prompt segment'
    _shellvault_update
    printf '%s' "$SHELLVAULT_PROMPT_TEXT"
end

# Usage: _shellvault_complete
#
# Prints the completion candidates for the `shellvault` command line being edited: subcommands,
# each one's flags, --format values, shells for `init`, profile names from
# `shellvault list --format lines`, and after `exec PROFILE --` the command to run. fish matches
# them against what was typed.
#
# Example:
#
#     complete -C 'shellvault use '
#
function _shellvault_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l prev $tokens[-1]
    set -l command
    set -l i 1
    for word in $tokens[2..-1]
        set i (math $i + 1)
        if test "$word" = --; and test "$command" = exec
            # The command to run, completed as a command line of its own.
            __fish_complete_subcommand --fcs-skip=$i
            return 0
        end
        if not set -q command[1]; and not string match -q -- '-*' $word
            set command $word
        end
    end
    if not set -q command[1]
        if string match -q -- '-*' "$cur"
            printf '%s\n' --debug --version --help
        else
            printf '%s\n' add remove list ls exec env export clear login config init use unuse direnv
        end
        return 0
    end
    switch "$prev"
        case --format
            switch $command
                case env
                    printf '%s\n' bash zsh sh fish powershell dotenv json process
                case export
                    printf '%s\n' env export-env json ini
                case list ls
                    printf '%s\n' table json lines alfred
            end
            return 0
        case -d --duration
            printf '%s\n' 15m 1h 8h 12h
            return 0
        case -t --mfa-token --region --path --browser --as
            return 0
    end
    if string match -q -- '-*' "$cur"
        switch $command
            case add
                printf '%s\n' --env --no-config
            case remove
                printf '%s\n' --force
            case list ls
                printf '%s\n' --format --json
            case exec
                printf '%s\n' --mfa-token --duration --no-session --region --server
            case use
                printf '%s\n' --mfa-token --duration --no-session --region
            case login
                printf '%s\n' --path --stdout --browser --isolate --mfa-token --duration --no-session --region
            case env
                printf '%s\n' --format --unset --mfa-token --duration --no-session --region
            case export
                printf '%s\n' --format --mfa-token --duration --no-session --region
        end
        printf '%s\n' --help
        return 0
    end
    switch $command
        case init
            printf '%s\n' bash zsh fish
        case direnv
            printf '%s\n' install print
        case config
            test "$prev" = config; and printf '%s\n' process
        case add remove exec env export clear use login
            command shellvault list --format lines 2>/dev/null
    end
end

complete -c shellvault -e
complete -c shellvault -f -a '(_shellvault_complete)'
