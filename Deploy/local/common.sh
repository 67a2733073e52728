# Helpers shared by Deploy/local/run and Deploy/local/test; sourced, never executed.
# shellcheck shell=bash

# The PostgreSQL 15 binaries that Debian's postgresql package installs (used by the scripts).
# shellcheck disable=SC2034
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Prints a progress line on stderr, prefixed with the calling script's name.
say() {
    # shellcheck disable=SC2154 # script_name is set by the sourcing script
    printf '%s: %s\n' "$script_name" "$*" >&2
}

# Prints an error and leaves with status 1 (the caller's EXIT trap cleans up).
die() {
    say "error: $*"
    exit 1
}

# Prints the last lines of a log file, indented, so a failure shows its cause; only
# lines since the file's last "=== " start marker, so an earlier run's lines never mislead.
show_log_tail() {
    local file=$1 lines=${2:-20}
    if [[ -s $file ]]; then
        printf '  last lines of %s:\n' "$file" >&2
        awk '/^=== / { n = 0 } { kept[n++] = $0 } END { for (i = 0; i < n; i++) print kept[i] }' "$file" |
            tail -n "$lines" | sed 's/^/    | /' >&2
    else
        printf '  (%s is empty)\n' "$file" >&2
    fi
}

# Makes sure every Debian package named is installed: as root it installs what
# is missing; otherwise it names the exact command to run and stops.
require_packages() {
    local missing=() package
    if ! command -v dpkg-query >/dev/null 2>&1; then
        say "warning: no dpkg-query, cannot check packages; make sure these are installed: $*"
        return 0
    fi
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    if ((EUID == 0)); then
        say "installing missing Debian packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    else
        say "missing Debian packages: ${missing[*]}"
        say "install them with: sudo apt-get install -y ${missing[*]}"
        exit 1
    fi
}

# Prints a fresh random secret: 48 hex digits, safe unquoted in URLs, SQL and env files.
random_secret() {
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

# Reads KEY=VALUE lines of an env file into the associative array named by $2,
# without evaluating anything (values such as Z85 keys may hold $, <, & …).
# One pair of surrounding quotes is removed; blank lines and # comments are skipped.
read_env_file() {
    local file=$1 line key value
    local -n into=$2
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        [[ $line == *=* ]] || continue
        key=${line%%=*}
        key=${key#export }
        value=${line#*=}
        if [[ $value =~ ^\'(.*)\'$ || $value =~ ^\"(.*)\"$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        # shellcheck disable=SC2034 # `into` names the caller's associative array
        into["$key"]=$value
    done <"$file"
}

# Lets the user $1 traverse every folder from / down to $2, adding only the
# search bit (never read) to folders that lack it, and saying so.
ensure_traversable() {
    local user=$1 path=$2 folder=""
    local parts part
    IFS=/ read -r -a parts <<<"${path#/}"
    for part in "${parts[@]}"; do
        folder+=/$part
        if ! runuser -u "$user" -- test -x "$folder" 2>/dev/null; then
            say "letting user $user traverse $folder (chmod o+x)"
            chmod o+x "$folder"
        fi
    done
}
