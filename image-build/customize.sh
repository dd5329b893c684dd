#!/usr/bin/env bash
# image-build/customize.sh ROOT BOARD CONSOLE (build.sh calls it on the
# unpacked Debian root filesystem, /proc, /sys and /dev mounted): installs
# livepush and turns the system into the appliance. Runs on the host;
# commands inside the root run through chroot (under qemu-user on a foreign
# architecture).
set -euo pipefail
ROOT=$1 BOARD=$2 CONSOLE=$3
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

# the Raspberry Pi 5: Debian 12's kernel (6.1) predates it; the kernel from
# bookworm-backports (6.12) has its device tree. raspi-firmware's kernel hook
# puts the new kernel, initramfs and device trees in /boot/firmware and
# names them in config.txt; the old kernel goes
if [[ $BOARD == rpi5 ]]; then
  MIRROR=${LIVEPUSH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  echo "deb $MIRROR bookworm-backports main non-free-firmware" > "$ROOT/etc/apt/sources.list.d/bookworm-backports.list"
  rm -f "$ROOT/etc/resolv.conf" && cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  in_root apt-get -q update
  in_root apt-get install -y -q --no-install-recommends -t bookworm-backports linux-image-arm64
  old=$(in_root dpkg-query -W -f '${Package}\n' 'linux-image-6.1.*' 2>/dev/null || true)
  [[ -z $old ]] || in_root apt-get purge -y -q $old
  in_root apt-get clean
  rm -rf "$ROOT"/var/lib/apt/lists/*
fi

# the livepush package (build.sh copied it in); its dependencies are in the
# base already (the board table), so nothing is downloaded here
in_root dpkg -i /tmp/livepush.deb
rm -f "$ROOT/tmp/livepush.deb"
in_root dpkg --audit

echo livepush > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlivepush\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"

# the root is not in fstab: the initramfs mounts it read-only under a tmpfs
# overlay. The boot partition is read by root alone (it holds the stream
# key); the data partition is mounted when present
cat > "$ROOT/etc/fstab" <<'FSTAB'
# livepush image (image-build/README.md): / is the read-only lp-root under a
# RAM overlay, set up by the initramfs; nothing here writes to the card
# except /var/lib/livepush (the last good configuration, the ssh host key)
# (the device timeouts are long because a slow board's udev may take that
# long to name the partitions; a card always has them, so it never waits)
LABEL=LIVEPUSH  /boot/firmware     vfat  ro,nofail,umask=0077,x-systemd.device-timeout=120s  0  0
LABEL=lp-data   /var/lib/livepush  ext4  rw,noatime,nofail,x-systemd.device-timeout=120s  0  2
FSTAB
mkdir -p "$ROOT/boot/firmware" "$ROOT/var/lib/livepush"

# what runs: the network (DHCP), names, time, the boot partition's settings
# and livepush; ssh only when the boot partition asks for it. The preset
# keeps systemd's first boot (an empty machine-id, as every box starts) from
# enabling anything else
mkdir -p "$ROOT/etc/systemd/system-preset"
printf '# livepush image: the first boot enables nothing (customize.sh chose)\ndisable *\n' \
  > "$ROOT/etc/systemd/system-preset/00-livepush.preset"
in_root systemctl enable systemd-networkd.service systemd-resolved.service \
  systemd-timesyncd.service livepush-boot-config.service livepush.service
in_root systemctl disable ssh.service
rm -f "$ROOT"/etc/ssh/ssh_host_*
# DHCP leases by MAC address: the machine-id (in RAM) changes at every boot
for f in "$ROOT"/etc/systemd/network/80-livepush-*.network; do
  printf '\n[DHCPv4]\nClientIdentifier=mac\n' >> "$f"
done
ln -sf /run/systemd/resolve/stub-resolv.conf "$ROOT/etc/resolv.conf"
# no password for anyone: root is locked; ssh with keys from the boot partition
in_root passwd --lock root >/dev/null
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
# the journal is in RAM (journald.conf.d), no persistent directory
rm -rf "$ROOT/var/log/journal"
# (the initramfs was made when the kernel was installed, with rootfs/'s
# settings, hook and overlay script already in place: nothing here changes it)
# non-reproducible leftovers of the build
rm -f "$ROOT/var/cache/ldconfig/aux-cache" "$ROOT/var/lib/dpkg/"*-old "$ROOT/var/cache/debconf/"*-old
rm -rf "$ROOT/var/log/"*.log "$ROOT/var/log/apt" "$ROOT/tmp/"* "$ROOT/var/tmp/"*
echo "customize: $BOARD, console $CONSOLE"
