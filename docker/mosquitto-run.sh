#!/bin/sh
# Runs the broker, and reloads it (SIGHUP) whenever the node rewrites its ACL.
#
#   sh mosquitto-run.sh mosquitto -c /mosquitto/config/mosquitto.conf
#
# The node writes the ACL (mqtt.acl_file) into a volume it shares with this container:
# BEM_ACL_SOURCE. This script copies it to BEM_ACL_FILE, the file mosquitto.conf names
# in acl_file, readable by the broker's user, and sends the broker SIGHUP, looking for
# a change every BEM_ACL_POLL_S seconds. Until the node has written one, the broker
# starts with the site's ACL (BEM_ACL_SEED, from `bem broker acl`) or, without one, an
# ACL that allows nothing: it fails closed. POSIX sh only (the image's busybox).
set -u

source_file=${BEM_ACL_SOURCE:-/bem-acl/acl}
live_file=${BEM_ACL_FILE:-/mosquitto/acl/acl}
seed_file=${BEM_ACL_SEED:-/mosquitto/auth/acl}
poll_s=${BEM_ACL_POLL_S:-1}
# The node's user in its image (docker/Dockerfile): it must be able to write the source.
writer_uid=${BEM_ACL_WRITER_UID:-1000}

say() {
    echo "mosquitto-run: $*" >&2
}

if [ "$#" -eq 0 ]; then
    say "usage: mosquitto-run.sh MOSQUITTO-COMMAND..."
    exit 2
fi

root() {
    [ "$(id -u)" = 0 ]
}

# Copy the source to the live file in one step (mv within one folder).
install_acl() {
    from=$1
    next="$live_file.next"
    cp "$from" "$next" || return 1
    chmod 0640 "$next" || return 1
    if root; then
        # The broker reads it as its own user (Mosquitto wants to own the file).
        chown mosquitto:mosquitto "$next" 2>/dev/null || chmod 0644 "$next"
    fi
    mv -f "$next" "$live_file"
}

mkdir -p "$(dirname "$live_file")" "$(dirname "$source_file")"
if root; then
    chown "$writer_uid" "$(dirname "$source_file")" ||
        say "cannot give $(dirname "$source_file") to uid $writer_uid: the node cannot write the ACL"
fi

if [ -f "$source_file" ]; then
    install_acl "$source_file" || say "cannot copy $source_file to $live_file"
elif [ ! -f "$live_file" ]; then
    if [ -f "$seed_file" ]; then
        install_acl "$seed_file" || say "cannot copy $seed_file to $live_file"
        say "no ACL from the node yet: starting with $seed_file"
    else
        : >"$live_file.next" && mv -f "$live_file.next" "$live_file"
        say "no ACL yet: starting with one that allows nothing until the node writes $source_file"
    fi
fi

"$@" &
broker=$!
say "broker started (pid $broker); watching $source_file"
trap 'kill -TERM "$broker" 2>/dev/null' TERM INT

while kill -0 "$broker" 2>/dev/null; do
    if [ -f "$source_file" ] && ! cmp -s "$source_file" "$live_file"; then
        if install_acl "$source_file"; then
            kill -HUP "$broker" 2>/dev/null && say "ACL changed: broker reloaded"
        else
            say "cannot copy $source_file to $live_file: the broker keeps its old ACL"
        fi
    fi
    # In the background, so a TERM is handled at once rather than after the sleep.
    sleep "$poll_s" &
    wait "$!"
done

wait "$broker"
status=$?
say "broker exited with status $status"
exit "$status"
