#!/usr/bin/env bash
# Builds a flashable livepush image from Debian packages (image-build/README.md).
#
# Usage: bash image-build/build.sh BOARD
#   BOARD: qemu-virt-arm64, qemu-virt-amd64 (UEFI, systemd-boot), rpi4, rpi5
#          (Raspberry Pi firmware boot); rk3588 is documented, not built.
# Output: target/images/livepush-BOARD.img and its .sha256 (LIVEPUSH_IMAGE_OUT
#   moves the folder). Needs root, Debian's mirror, the livepush package for
#   the board's architecture (packaging/build-deb.sh; built when missing) and
#   the `image` packages of scripts/deps.sh (arm64 on an amd64 host runs its
#   maintainer scripts under qemu-user through binfmt_misc).
#
# The disk (MBR): 1. FAT "LIVEPUSH" (256 MiB): the boot files and the files a
# person edits before the first boot (livepush.toml, authorized_keys,
# network/, wpa_supplicant.conf; BOOT-README.txt says how); 2. ext4 "lp-root":
# the root filesystem, only ever mounted read-only (a tmpfs overlay takes the
# writes); 3. ext4 "lp-data" (64 MiB): the last good configuration and the ssh
# host key, written only when they change.
# Reproducible: file times, filesystem ids and the disk id come from the last
# commit (SOURCE_DATE_EPOCH), so the same commit and the same Debian packages
# give the same bytes (README says what was measured).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
BOARD=${1:-}
MIRROR=${LIVEPUSH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${LIVEPUSH_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
OUT=${LIVEPUSH_IMAGE_OUT:-$REPO/target/images}
t0=$(date +%s)
log() { echo "image-build: $*" >&2; }

# ---- the board table ----------------------------------------------------------
# base: what every image runs. One root filesystem per architecture: the
# arm64 one carries the Raspberry Pi firmware, Wi-Fi firmware and
# wpa_supplicant and systemd-boot alike (unused files on the other board,
# one cached base and one emulated build instead of two); the board decides
# what goes on the boot partition.
base=systemd,systemd-sysv,udev,kmod,dbus,systemd-timesyncd,systemd-resolved,initramfs-tools,busybox,zstd,ca-certificates,openssh-server,alsa-utils
case $BOARD in
  qemu-virt-arm64) ARCH=arm64 BOOT=efi CONSOLE=ttyAMA0 ;;
  qemu-virt-amd64) ARCH=amd64 BOOT=efi CONSOLE=ttyS0 ;;
  rpi4) ARCH=arm64 BOOT=rpi CONSOLE=ttyS1 ;;
  rpi5) ARCH=arm64 BOOT=rpi CONSOLE=ttyAMA10 ;;
  rk3588)
    echo "rk3588: not built. Debian's kernel does not drive the RK3588's video encoder (MPP needs the vendor kernel); see image-build/README.md" >&2
    exit 2 ;;
  *) echo "usage: $0 qemu-virt-arm64|qemu-virt-amd64|rpi4|rpi5" >&2; exit 2 ;;
esac
case $ARCH in
  arm64) components=main,non-free-firmware
    EXTRA=linux-image-arm64,systemd-boot-efi,raspi-firmware,firmware-brcm80211,wpasupplicant ;;
  amd64) components=main EXTRA=linux-image-amd64,systemd-boot-efi,libva2,libva-drm2 ;;
esac
[[ $(id -u) == 0 ]] || { echo "image-build: run as root (mmdebstrap, chroot)" >&2; exit 2; }

# a foreign architecture's maintainer scripts run under qemu-user: binfmt_misc
# must be mounted and qemu's handler registered (a fresh machine or a
# container may have neither until asked)
if [[ $ARCH != "$(dpkg --print-architecture)" ]]; then
  [[ -e /proc/sys/fs/binfmt_misc/status ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  arch-test "$ARCH" >/dev/null || { echo "image-build: cannot run $ARCH programs (qemu-user-static, binfmt-support)" >&2; exit 2; }
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
DEB=$REPO/target/debian/livepush_${version}-1_${ARCH}.deb
[[ -s $DEB ]] || bash packaging/build-deb.sh "$ARCH"
log "$BOARD ($ARCH): livepush $(dpkg-deb -f "$DEB" Version), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"

WORK=$(mktemp -d /tmp/livepush-image.XXXXXX)
cleanup() {
  for m in proc sys dev; do mountpoint -q "$WORK/root/$m" && umount -R "$WORK/root/$m" || true; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
ROOT=$WORK/root BOOTFS=$WORK/boot
mkdir -p "$BOOTFS"
cp "$DEB" "$WORK/livepush.deb"

# ---- 1. the root filesystem -----------------------------------------------------
# The Debian part (the packages, and image-build/rootfs, which goes in before
# the kernel and initramfs-tools are installed so its initramfs settings and
# overlay script take effect at once) is cached as a tarball keyed by the
# package list and rootfs/'s files: about 5 minutes under emulation, so it
# is made once. Then livepush's package and customize.sh (services, fstab,
# presets, the initramfs) go on top at every build.
CACHE=${LIVEPUSH_IMAGE_CACHE:-$OUT/cache}
mkdir -p "$CACHE"
key=$( { echo "$ARCH $components $base $EXTRA $(mmdebstrap --version)"; \
  tar -C image-build/rootfs --sort=name --mtime=@0 --owner=0 --group=0 -cf - . ; } | sha256sum | cut -c1-16)
basetar=$CACHE/base-$ARCH-$key.tar
if [[ ! -s $basetar ]]; then
  log "building the Debian root filesystem (cache key $key)"
  mmdebstrap --quiet --arch="$ARCH" --variant=minbase --components="$components" --format=tar \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-include=/usr/share/doc/livepush/*' \
    --include="$base,$EXTRA" \
    --essential-hook="sync-in $REPO/image-build/rootfs /" \
    bookworm "$basetar.tmp" \
    "deb $MIRROR bookworm ${components//,/ }" \
    "deb $MIRROR bookworm-updates ${components//,/ }" \
    "deb $SECURITY bookworm-security ${components//,/ }"
  mv "$basetar.tmp" "$basetar"
  # older bases of this architecture are stale
  find "$CACHE" -name "base-$ARCH-*.tar" ! -name "$(basename "$basetar")" -delete
fi
mkdir -p "$ROOT"
tar --numeric-owner --xattrs --xattrs-include='*' -xf "$basetar" -C "$ROOT"
log "Debian root filesystem ready after $(( $(date +%s) - t0 )) s"
cp "$WORK/livepush.deb" "$ROOT/tmp/livepush.deb"
mount -t proc proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
LIVEPUSH_DEBIAN_MIRROR=$MIRROR bash image-build/customize.sh "$ROOT" "$BOARD" "$CONSOLE"
for m in proc sys dev; do umount -R "$ROOT/$m"; done
log "root filesystem: $(du -sm "$ROOT" | cut -f1) MiB after $(( $(date +%s) - t0 )) s"

# ---- 2. the boot partition's files --------------------------------------------
kver=$(basename "$(ls -d "$ROOT"/lib/modules/* | sort -V | tail -1)")
case $BOOT in
  efi)
    case $ARCH in
      arm64) efi=BOOTAA64.EFI sdboot=systemd-bootaa64.efi ;;
      amd64) efi=BOOTX64.EFI sdboot=systemd-bootx64.efi ;;
    esac
    mkdir -p "$BOOTFS/EFI/BOOT" "$BOOTFS/loader/entries"
    cp "$ROOT/usr/lib/systemd/boot/efi/$sdboot" "$BOOTFS/EFI/BOOT/$efi"
    # systemd-boot 252 loads only uncompressed kernels (Debian's arm64
    # vmlinuz is one; a gzip one is unpacked)
    if gzip -t "$ROOT/boot/vmlinuz-$kver" 2>/dev/null; then
      zcat "$ROOT/boot/vmlinuz-$kver" > "$BOOTFS/vmlinuz"
    else
      cp "$ROOT/boot/vmlinuz-$kver" "$BOOTFS/vmlinuz"
    fi
    cp "$ROOT/boot/initrd.img-$kver" "$BOOTFS/initrd.img"
    printf 'timeout 0\ndefault livepush.conf\neditor no\n' > "$BOOTFS/loader/loader.conf"
    cat > "$BOOTFS/loader/entries/livepush.conf" <<EOF
title livepush ($BOARD)
linux /vmlinuz
initrd /initrd.img
options root=LABEL=lp-root ro rootwait console=$CONSOLE quiet loglevel=3 systemd.show_status=auto
EOF
    ;;
  rpi)
    # raspi-firmware's kernel hooks filled /boot/firmware: the GPU firmware,
    # the device trees, the kernel, the initramfs, config.txt and cmdline.txt
    cp -r "$ROOT/boot/firmware/." "$BOOTFS/"
    echo "console=$CONSOLE,115200 console=tty1 root=LABEL=lp-root ro rootwait quiet loglevel=3" > "$BOOTFS/cmdline.txt"
    ;;
esac
# what a person edits: the configuration (no address yet: livepush shows
# "bad config" until one is set), and how to set everything
board_id=${BOARD%-arm64}; board_id=${board_id%-amd64}
{
  echo "# livepush on this box. Edit this file on any computer, then put the card"
  echo "# back in the box and power it on. Set url (the push address) at least."
  echo "# Every key, its default and what it does: the comments below and the"
  echo "# project's README (also on the box: /usr/share/doc/livepush/README.md)."
  echo
  echo "board = \"$board_id\""
  echo
  sed -e 's/^url = .*/# url = "rtmp:\/\/live.example.com\/live\/STREAM-KEY"/' \
      -e '/^# The board profile/,/^# board = /d' config/livepush.example.toml
} > "$BOOTFS/livepush.toml"
# the same file is the image's own configuration until the boot partition's
# is applied: a box that cannot read its card shows BAD CONFIG, it does not
# push to the package example's address
install -m 0640 "$BOOTFS/livepush.toml" "$ROOT/etc/livepush/livepush.toml"
chroot "$ROOT" chown root:livepush /etc/livepush/livepush.toml
cp image-build/BOOT-README.txt "$BOOTFS/BOOT-README.txt"
mkdir -p "$BOOTFS/network"
cp image-build/network-example.txt "$BOOTFS/network/README.txt"

# ---- 3. the filesystems and the disk --------------------------------------------
# fixed ids from the commit time, so two builds of one commit match
seed=$(printf '%s %s' "$BOARD" "$SOURCE_DATE_EPOCH" | sha256sum | cut -c1-32)
uuid() { echo "${seed:0:8}-${seed:8:4}-4${seed:13:3}-8${seed:17:3}-$1"; }
find "$ROOT" "$BOOTFS" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
fat_mb=256 data_mb=64
root_mb=$(( $(du -sm --apparent-size "$ROOT" | cut -f1) * 115 / 100 + 64 ))
boot_used=$(du -sm "$BOOTFS" | cut -f1)
(( boot_used < fat_mb - 16 )) || { echo "image-build: boot files ($boot_used MiB) do not fit the FAT partition" >&2; exit 1; }
rm -f "$WORK/fat.img"
mkfs.vfat -F 32 -n LIVEPUSH -i "${seed:20:8}" -C "$WORK/fat.img" $(( fat_mb * 1024 )) >/dev/null
# mcopy -m keeps the (clamped) file times
(cd "$BOOTFS" && mcopy -s -m -i "$WORK/fat.img" ./* ::/)
mkfs.ext4 -q -L lp-root -U "$(uuid 000000000001)" -E "hash_seed=$(uuid 000000000002),root_owner=0:0" \
  -O ^has_journal -m 0 -d "$ROOT" "$WORK/root.img" "${root_mb}M"
mkfs.ext4 -q -L lp-data -U "$(uuid 000000000003)" -E "hash_seed=$(uuid 000000000004)" -m 0 \
  "$WORK/data.img" "${data_mb}M"
case $BOOT in efi) fat_type=ef ;; rpi) fat_type=c ;; esac
mkdir -p "$OUT"
img=$OUT/livepush-$BOARD.img
rm -f "$img"
total=$(( 1 + fat_mb + root_mb + data_mb ))
truncate -s "${total}M" "$img"
sfdisk --quiet "$img" <<EOF
label: dos
label-id: 0x${seed:0:8}
unit: sectors

start=2048, size=$(( fat_mb * 2048 )), type=$fat_type, bootable
start=$(( 2048 + fat_mb * 2048 )), size=$(( root_mb * 2048 )), type=83
start=$(( 2048 + (fat_mb + root_mb) * 2048 )), size=$(( data_mb * 2048 )), type=83
EOF
dd if="$WORK/fat.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/root.img" of="$img" bs=1M seek=$(( 1 + fat_mb )) conv=notrunc,sparse status=none
dd if="$WORK/data.img" of="$img" bs=1M seek=$(( 1 + fat_mb + root_mb )) conv=notrunc,sparse status=none
(cd "$OUT" && sha256sum "livepush-$BOARD.img" > "livepush-$BOARD.img.sha256")
log "$img: ${total} MiB (boot ${fat_mb}, root ${root_mb}, data ${data_mb}), kernel $kver, sha256 $(cut -c1-16 "$img.sha256"), in $(( $(date +%s) - t0 )) s"
