#!/bin/busybox sh
# Stage 1 (inside the busybox initramfs): load virtio/9p/overlay, mount the host's root read-only
# over 9p with a tmpfs overlay on top, prepare the new root, then switch_root to stage 2.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "vrfhost-init: $*" > /dev/console; echo o > /proc/sysrq-trigger; sleep 10; }
for m in $(cat /modules.order); do
  insmod "/mod/$m.ko" || fail "insmod $m failed"
done
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
MODDIR=$(arg vrfhost_modules)
REPO=$(arg vrfhost_repo)
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o size=1536m,mode=0755 tmpfs /upper || fail "mount upper"
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot || fail "mount overlay"
mkdir -p /newroot/vmshare /newroot/run /newroot/tmp /newroot/lib/modules
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 vmshare /newroot/vmshare || fail "mount vmshare"
if [ -n "$MODDIR" ]; then mount --bind "/newroot$MODDIR" /newroot/lib/modules || fail "bind modules"; fi
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
# The repository (scripts, scenarios, the packed charm) may live under /tmp or /run, which get
# fresh tmpfs mounts below: keep its overlay view and put it back at the same path afterwards.
case "$REPO" in
  /tmp/*|/run/*) mkdir -p /newroot/.vrfhost-repo && mount --bind "/newroot$REPO" /newroot/.vrfhost-repo || fail "bind repo $REPO" ;;
  *) REPO= ;;
esac
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
if [ -n "$REPO" ]; then
  mkdir -p "/newroot$REPO" && mount --move /newroot/.vrfhost-repo "/newroot$REPO" || fail "move repo $REPO"
fi
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
mkdir -p /newroot/dev/shm /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
[ -e /newroot/dev/fd ] || ln -s /proc/self/fd /newroot/dev/fd
cp /init-stage2.sh /newroot/vrfhost-init2
exec switch_root /newroot /bin/sh /vrfhost-init2
