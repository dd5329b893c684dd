#!/bin/busybox sh
# tests/hil/init.sh: the /init of the HIL initramfs (setup.sh copies it in).
# 1. mounts proc, sys, devtmpfs, devpts and tmpfs (/tmp), brings up lo;
# 2. loads the modules listed in /etc/hil-modules in order; options come from
#    kernel command-line words such as opt_vivid="n_devs=1 node_types=0x1" or
#    opt_snd_aloop="pcm_substreams=2" (the kernel hands dot-less key=value
#    words to init as environment variables; '-' in module names becomes '_');
# 3. mounts the 9p tags "share" on /share and "ctl" on /ctl;
# 4. runs "sh /ctl/cmd.sh" in /share, writes its exit status to /ctl/rc and
#    the kernel log to /ctl/dmesg.txt;
# 5. powers off.
/bin/busybox --install -s
export PATH=/usr/bin:/usr/sbin:/bin:/sbin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
# the console is a serial tty: no \n -> \r\n mapping, so the host reads plain lines
stty -onlcr 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
# qemu runs with -nic none: loopback is the only interface
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hostname hil

while read -r m; do
  n=$(basename "$m" .ko | tr - _)
  eval "o=\${opt_$n:-}"
  insmod "$m" $o || echo "HIL: insmod $m $o FAILED"
done < /etc/hil-modules
for v in $(env | sed -n 's/^\(opt_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

p9=trans=virtio,version=9p2000.L,msize=512000,cache=mmap
mount -t 9p -o $p9 ctl /ctl || echo "HIL: mount ctl FAILED"
mount -t 9p -o $p9 share /share || echo "HIL: mount share FAILED"
# devtmpfs creates the nodes during insmod; wait briefly just in case
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /dev/video0 ] && [ -e /dev/snd/controlC0 ] && break; sleep 0.1; done

cd /share
echo "HIL: command start at uptime $(up)s"
sh /ctl/cmd.sh
rc=$?
echo "HIL: command end at uptime $(up)s rc=$rc"
echo $rc > /ctl/rc
dmesg > /ctl/dmesg.txt
cd /
sync
umount /share /ctl 2>/dev/null
poweroff -f
