#!/bin/sh
# Stage 2 (in the switched root: the host's userland, read-only under a tmpfs overlay).
# Runs the job's Node entry, records its exit code on the share, and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
hostname vrfhost-vm
ip link set lo up
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
NODE=$(arg vrfhost_node)
ENTRY=$(arg vrfhost_entry)
echo "vrfhost-vm: up $(cut -d' ' -f1 /proc/uptime)s" > /dev/console
"$NODE" "$ENTRY" /vmshare/job.json < /dev/null > /dev/console 2>&1
echo $? > /vmshare/exit-code.tmp
mv /vmshare/exit-code.tmp /vmshare/exit-code
sync
echo o > /proc/sysrq-trigger
sleep 30
