#!/bin/bash
# tests/hil/vicodec.sh: builds vicodec (the kernel's virtual stateful M2M codec)
# as an out-of-tree module for the guest kernel. Debian does not build it; its
# source comes from Debian's linux-source package of the kernel's exact
# version, against that version's linux-headers. On amd64 Debian also leaves
# out v4l2-mem2mem (CONFIG_V4L2_MEM2MEM_DEV unset), so it is built alongside.
# Nothing is installed: the packages are downloaded into DL and unpacked in W.
#
# Also built, for the status LED tests: uleds (LED class devices a user
# program creates and watches; CONFIG_LEDS_USER is off in Debian), gpio-sim
# (simulated GPIO chips; CONFIG_GPIO_SIM is off) and the irq_sim it needs
# (CONFIG_IRQ_SIM is a built-in-only option that Debian leaves off: built
# as a module with two edits, see ../shared/reference/vicodec.md).
#
# Usage: vicodec.sh ARCH KPKG DL W OUTDIR      (setup.sh calls it)
#   KPKG: the kernel package (linux-image-6.1.0-56-amd64), already in DL
#   OUTDIR: gets vicodec.ko (and v4l2-mem2mem.ko on amd64), irq_sim.ko,
#   gpio-sim.ko and uleds.ko (and i2c-stub.ko on arm64)
# Needs gcc, make, and for arm64 gcc-aarch64-linux-gnu.
set -euo pipefail
ARCH=$1 KPKG=$2 DL=$3 W=$4 OUT=$5
APT=(apt-get -o DPkg::Lock::Timeout=600 -q -o APT::Sandbox::User=root)
log() { echo "hil-setup: vicodec: $*" >&2; }
KABI=${KPKG#linux-image-}; KABI=${KABI%-"$ARCH"}        # 6.1.0-56
V=$(dpkg-deb -f "$(ls "$DL/${KPKG}"_*.deb | tail -1)" Version)   # 6.1.192-2
MAJ=$(echo "$KABI" | cut -d. -f1-2)                      # 6.1
mkdir -p "$DL" "$W/hdr" "$W/src" "$OUT"
get=()
for p in "linux-source-$MAJ" "linux-headers-$KABI-common" "linux-kbuild-$MAJ"; do
  ls "$DL/${p}_${V}"_*.deb >/dev/null 2>&1 || get+=("$p=$V")
done
ls "$DL/linux-headers-$KABI-${ARCH}_${V}"_*.deb >/dev/null 2>&1 || get+=("linux-headers-$KABI-$ARCH:$ARCH=$V")
[ ${#get[@]} -eq 0 ] || (cd "$DL" && "${APT[@]}" download "${get[@]}")
for p in "linux-headers-$KABI-common" "linux-kbuild-$MAJ" "linux-headers-$KABI-$ARCH"; do
  dpkg -x "$(ls "$DL/${p}_${V}"_*.deb | tail -1)" "$W/hdr"
done
H=$W/hdr/usr/src/linux-headers-$KABI-$ARCH
# the headers are not under /usr/src: point the flavour Makefile at the common tree
sed -i "s#^include /usr/src/#include $W/hdr/usr/src/#" "$H/Makefile"
S=linux-source-$MAJ
dpkg-deb --fsys-tarfile "$(ls "$DL/${S}_${V}"_all.deb | tail -1)" \
  | tar -x -C "$W/src" "./usr/src/$S.tar.xz"
tar -xJf "$W/src/usr/src/$S.tar.xz" -C "$W/src" \
  "$S/drivers/media/test-drivers/vicodec" "$S/drivers/media/v4l2-core/v4l2-mem2mem.c" \
  "$S/drivers/gpio/gpio-sim.c" "$S/drivers/gpio/gpiolib.h" "$S/kernel/irq/irq_sim.c" \
  "$S/drivers/leds/uleds.c" "$S/drivers/i2c/i2c-stub.c"
M=$W/mod; mkdir -p "$M"
cp "$W/src/$S"/drivers/media/test-drivers/vicodec/*.[ch] "$M/"
objs="vicodec.o"
if [ "$ARCH" = amd64 ]; then
  cp "$W/src/$S/drivers/media/v4l2-core/v4l2-mem2mem.c" "$M/"
  objs="$objs v4l2-mem2mem.o"
fi
printf 'obj-m := %s\nvicodec-objs := codec-fwht.o codec-v4l2-fwht.o vicodec-core.o\n' "$objs" > "$M/Kbuild"
G=$W/gpio; mkdir -p "$G"
cp "$W/src/$S/drivers/gpio/gpio-sim.c" "$W/src/$S/drivers/gpio/gpiolib.h" \
   "$W/src/$S/kernel/irq/irq_sim.c" "$W/src/$S/drivers/leds/uleds.c" "$G/"
# irq_sim as a module: a licence, and generic_handle_irq (irq_to_desc is not exported)
echo 'MODULE_LICENSE("GPL");' >> "$G/irq_sim.c"
sed -i 's/handle_simple_irq(irq_to_desc(irqnum))/generic_handle_irq(irqnum)/' "$G/irq_sim.c"
grep -q 'generic_handle_irq(irqnum)' "$G/irq_sim.c" || { log "irq_sim.c: the edit did not apply"; exit 1; }
grep -q '^#include <linux/module.h>' "$G/irq_sim.c" || sed -i '1i #include <linux/module.h>' "$G/irq_sim.c"
gobjs="irq_sim.o gpio-sim.o uleds.o"
# i2c-stub (an I2C adapter that takes only SMBus calls: a display driver's
# raw writes fail on it) ships with Debian's amd64 kernel, not arm64's
if [ "$ARCH" = arm64 ]; then cp "$W/src/$S/drivers/i2c/i2c-stub.c" "$G/"; gobjs="$gobjs i2c-stub.o"; fi
printf 'obj-m := %s\n' "$gobjs" > "$G/Kbuild"
for d in "$M" "$G"; do
  case $ARCH in
    amd64) make -s -C "$H" M="$d" -j"$(nproc)" modules ;;
    arm64) make -s -C "$H" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- M="$d" -j"$(nproc)" modules ;;
  esac
done
for k in "$M"/*.ko "$G"/*.ko; do
  # debug info makes them ten times larger; the guest does not need it
  objcopy --strip-debug "$k" "$OUT/$(basename "$k")" 2>/dev/null \
    || aarch64-linux-gnu-objcopy --strip-debug "$k" "$OUT/$(basename "$k")"
done
log "$ARCH: built $(cd "$OUT" && ls ./*.ko | xargs -n1 basename | tr '\n' ' ')for $KABI-$ARCH ($V)"
