#!/usr/bin/env bash
# Checks built images without booting them (the Raspberry Pi images cannot
# boot here: qemu has no Pi 4/5 machine that runs Debian's firmware path):
# the partition table (MBR: FAT boot partition first, bootable; the ext4
# root; the ext4 data partition), the boot files each board's firmware loads
# (read from the FAT with mtools, and the names config.txt or the loader
# entry gives), the kernel command line (root by label, read-only), and in
# the root filesystem (read with debugfs) livepush for the right
# architecture, its unit enabled, and the fstab.
#
# Usage: bash image-build/check.sh BOARD...   (images in target/images, or
#        LIVEPUSH_IMAGE_OUT)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${LIVEPUSH_IMAGE_OUT:-$REPO/target/images}
fail() { echo "image check: $BOARD: FAIL: $*" >&2; exit 1; }
(($#)) || { echo "usage: $0 BOARD..." >&2; exit 2; }
for BOARD in "$@"; do
  img=$OUT/livepush-$BOARD.img
  [[ -s $img ]] || fail "no $img (bash image-build/build.sh $BOARD)"
  (cd "$OUT" && sha256sum --quiet -c "livepush-$BOARD.img.sha256") || fail "sha256 does not match"
  # -- partitions
  table=$(sfdisk --dump "$img")
  parts=$(grep -c '^/.*: start=' <<<"$table")
  [[ $parts == 3 ]] || fail "$parts partitions, want 3:\n$table"
  grep -q '^label: dos' <<<"$table" || fail "not an MBR disk:\n$table"
  p1=$(grep -m1 ': start=' <<<"$table")
  case $BOARD in
    rpi*) want_type=c ;;
    *) want_type=ef ;;
  esac
  [[ $p1 == *"start=        2048"* && $p1 == *"type=$want_type"* && $p1 == *bootable* ]] \
    || fail "partition 1 is not a bootable FAT (type $want_type) at 1 MiB: $p1"
  fat="$img@@1M"
  label=$(mlabel -s -i "$fat" :: | sed -n 's/^ *Volume label is \([^ ]*\).*/\1/p')
  [[ $label == LIVEPUSH ]] || fail "FAT label '$label', want LIVEPUSH"
  files=$(mdir -/ -b -i "$fat" ::/ | sed 's|^::/||')
  has() { grep -qx "$1" <<<"$files" || fail "no $1 on the boot partition"; }
  for f in livepush.toml BOOT-README.txt network/README.txt; do has "$f"; done
  # (grep -q on a here-string, not a pipe: with pipefail, grep leaving early
  # can fail the writer with SIGPIPE, which read as a failed check)
  grep -q '^board = "' <<<"$(mtype -i "$fat" ::/livepush.toml)" || fail "livepush.toml names no board"
  # -- what the firmware loads
  case $BOARD in
    rpi4|rpi5)
      has config.txt; has cmdline.txt
      cmdline=$(mtype -i "$fat" ::/cmdline.txt)
      config=$(mtype -i "$fat" ::/config.txt | tr -d '\r')
      kernel=$(sed -n 's/^kernel=//p' <<<"$config" | tail -1)
      initrd=$(sed -n 's/^initramfs \([^ ]*\).*/\1/p' <<<"$config" | tail -1)
      [[ -n $kernel && -n $initrd ]] || fail "config.txt names no kernel or initramfs:\n$config"
      has "$kernel"; has "$initrd"
      case $BOARD in
        rpi4) for f in start4.elf fixup4.dat bcm2711-rpi-4-b.dtb; do has "$f"; done ;;
        rpi5) has bcm2712-rpi-5-b.dtb ;;
      esac
      grep -q 'arm_64bit=1' <<<"$config" || fail "config.txt does not boot 64-bit"
      ;;
    qemu-virt-arm64|qemu-virt-amd64)
      case $BOARD in *arm64) has EFI/BOOT/BOOTAA64.EFI ;; *) has EFI/BOOT/BOOTX64.EFI ;; esac
      has loader/loader.conf; has loader/entries/livepush.conf; has vmlinuz; has initrd.img
      cmdline=$(mtype -i "$fat" ::/loader/entries/livepush.conf | sed -n 's/^options //p')
      ;;
    *) fail "unknown board" ;;
  esac
  [[ " $cmdline " == *" root=LABEL=lp-root "* && " $cmdline " == *" ro "* ]] \
    || fail "kernel command line without root=LABEL=lp-root ro: $cmdline"
  # -- the root filesystem
  start=$(sed -n '2p' <<<"$(grep ': start=' <<<"$table")" | sed 's/.*start= *\([0-9]*\),.*/\1/')
  size=$(sed -n '2p' <<<"$(grep ': start=' <<<"$table")" | sed 's/.*size= *\([0-9]*\),.*/\1/')
  rootimg=$(mktemp /tmp/livepush-check.XXXXXX)
  trap 'rm -f "$rootimg"' EXIT
  dd if="$img" of="$rootimg" bs=512 skip="$start" count="$size" conv=sparse status=none
  dbg() { debugfs -R "$1" "$rootimg" 2>/dev/null; }
  [[ $(dumpe2fs -h "$rootimg" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p') == lp-root ]] \
    || fail "partition 2 is not lp-root"
  dbg "dump /usr/bin/livepush $rootimg.bin" >/dev/null
  case $BOARD in *amd64) arch=x86-64 ;; *) arch=aarch64 ;; esac
  grep -q "$arch" <<<"$(file -b "$rootimg.bin")" || fail "/usr/bin/livepush is not $arch: $(file -b "$rootimg.bin")"
  rm -f "$rootimg.bin"
  grep -q 'Type: symlink' <<<"$(dbg "stat /etc/systemd/system/multi-user.target.wants/livepush.service")" \
    || fail "livepush.service not enabled"
  grep -q '^LABEL=LIVEPUSH  */boot/firmware  *vfat  *ro,' <<<"$(dbg "cat /etc/fstab")" || fail "fstab has no read-only boot partition"
  grep -q '^root:[*!]' <<<"$(dbg "cat /etc/shadow")" || fail "root has a password"
  rm -f "$rootimg"
  echo "image check: $BOARD: $(du -m --apparent-size "$img" | cut -f1) MiB, 3 partitions, boot files present, root $arch with livepush enabled"
done
