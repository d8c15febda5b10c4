"""What the volume tests' guests run, and how the tests read what they print.

:data:`WATCHER` is a ``#!`` user_data script for the guest image (``pocketstack/guest``). It
runs in the background (the boot finishes, ``ready`` is printed) and prints ``VOLTEST-...``
lines on the serial console, which the tests read (``openstack console log show`` for a
cloud's guests, the console file for plain QEMU):

- ``VOLTEST-ROOT-DISK <dev>`` and ``VOLTEST-ROOT-SERIAL <serial>``: the root disk (the one
  ``/`` is on: ``vda`` for an image disk, no serial; a boot volume may come after the
  config drive, its serial is its id, see docs/block-storage.md);
- ``VOLTEST-ROOT <mark>`` when ``/root/volume-test-mark`` is on the root filesystem already
  (written by an earlier instance booted from the same volume), else ``VOLTEST-ROOT-NEW
  root-of-<hostname>`` after writing it;
- for every virtio disk that appears besides the root disk and the config drive, keyed by its
  serial (the first 20 characters of the volume id; the device name when it has none):
  ``VOLTEST-DISK <key> <dev> <bytes>``; ``VOLTEST-MKFS <key>`` when it held no filesystem
  (busybox ``mke2fs``: ext2, mounted by the kernel's ext4); ``VOLTEST-READ <key> <data>``
  (the file ``data`` on it, ``NONE`` when there is none); then it writes
  ``<hostname>:<key>:<n>`` into ``data`` (``n`` counts the guest's writes, so each write is
  told from the others), syncs, unmounts (so a detach loses nothing) and prints
  ``VOLTEST-WROTE <key> <what it wrote>``;
- ``VOLTEST-SIZE <key> <bytes>`` whenever such a disk's size changes (an extend);
- ``VOLTEST-GONE <key>`` when it disappears (a detach); attached again, it is handled anew.
"""

from __future__ import annotations

import re

WATCHER = r"""#!/bin/sh
(
mark=/root/volume-test-mark
root=$(awk '$2 == "/" && $1 ~ /^\/dev\// { print $1 }' /proc/mounts | tail -n 1)
root=${root##*/}
root=${root%%[0-9]*}
echo "VOLTEST-ROOT-DISK $root"
echo "VOLTEST-ROOT-SERIAL $(cat "/sys/block/$root/serial" 2>/dev/null)"
if [ -f "$mark" ]; then
    echo "VOLTEST-ROOT $(cat "$mark")"
else
    echo "root-of-$(hostname)" >"$mark"
    sync
    echo "VOLTEST-ROOT-NEW $(cat "$mark")"
fi
cfg=$(findfs LABEL=config-2 2>/dev/null)
cfg=${cfg##*/}
st=/run/voltest
mkdir -p "$st"

handle() {
    dev=$1
    key=$(cat "/sys/block/$dev/serial" 2>/dev/null)
    [ -n "$key" ] || key=$dev
    size=$(cat "/sys/block/$dev/size" 2>/dev/null)
    [ -n "$size" ] || return 0  # gone again before it was read (a quick detach)
    echo "$key" >"$st/$dev.key"
    echo "$size" >"$st/$dev.size"
    echo "VOLTEST-DISK $key $dev $((size * 512))"
    mkdir -p "/mnt/$dev"
    if ! mount -t ext4 "/dev/$dev" "/mnt/$dev" 2>/dev/null; then
        mke2fs "/dev/$dev" >/dev/null 2>&1
        echo "VOLTEST-MKFS $key"
        if ! mount -t ext4 "/dev/$dev" "/mnt/$dev"; then
            echo "VOLTEST-FAILED $key mount"
            return
        fi
    fi
    echo "VOLTEST-READ $key $(cat "/mnt/$dev/data" 2>/dev/null || echo NONE)"
    n=$(($(cat "$st/writes" 2>/dev/null || echo 0) + 1))
    echo "$n" >"$st/writes"
    data="$(hostname):$key:$n"
    echo "$data" >"/mnt/$dev/data"
    sync
    umount "/mnt/$dev"
    echo "VOLTEST-WROTE $key $data"
}

while true; do
    for d in /sys/block/vd*; do
        dev=${d##*/}
        [ -e "$d" ] && [ "$dev" != "$root" ] && [ "$dev" != "$cfg" ] || continue
        if [ ! -f "$st/$dev.key" ]; then
            handle "$dev"
        else
            # read once: the disk may vanish between two reads (a detach), and an empty
            # size in $((...)) would end this script, so it never reported VOLTEST-GONE
            size=$(cat "$d/size" 2>/dev/null) || continue
            [ -n "$size" ] && [ "$size" != "$(cat "$st/$dev.size")" ] || continue
            echo "$size" >"$st/$dev.size"
            echo "VOLTEST-SIZE $(cat "$st/$dev.key") $((size * 512))"
        fi
    done
    for f in "$st"/*.key; do
        [ -f "$f" ] || continue
        dev=$(basename "$f" .key)
        if [ ! -e "/sys/block/$dev" ]; then
            echo "VOLTEST-GONE $(cat "$f")"
            rm -f "$f" "$st/$dev.size"
        fi
    done
    sleep 1
done
) &
"""


def key(volume_id: str) -> str:
    """What the guest sees of a volume's id as its disk's serial (virtio-blk: 20 bytes)."""
    return volume_id[:20]


def lines(log: str, tag: str, who: str | None = None) -> list[list[str]]:
    """The fields after ``VOLTEST-<tag>`` of each such console line (of disk ``who`` only,
    when given: its first field), oldest first. A line may start with a getty's ``login:``
    prompt, which shares the console."""
    found = []
    for m in re.finditer(rf"(?<![\w-])VOLTEST-{re.escape(tag)}(?: (.*?))?\r?$", log, re.MULTILINE):
        fields = (m.group(1) or "").split()
        if who is None or (fields and fields[0] == who):
            found.append(fields)
    return found
