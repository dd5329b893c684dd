#!/bin/bash
# tests/hil/run-guest.sh: boots the HIL guest (built by setup.sh) under qemu, runs
# a shell command in it with HOSTDIR mounted at /share (also the cwd), and exits
# with the command's exit status: 124 on timeout, 125 if the guest never reported.
# The serial console (the command's stdout and stderr, plus a few "HIL:" lines
# from /init) goes to stdout; the guest's dmesg is copied to HOSTDIR/.rig-dmesg.txt.
#
# Usage: run-guest.sh [-a amd64|arm64] [-m MB] [-t TIMEOUT_SEC] [-o 'WORDS'] [-d SOCK] HOSTDIR 'command'
#   -a  guest architecture (default amd64)    -m  guest RAM in MB (default 512)
#   -t  timeout for the whole VM (default 120 s)
#   -d  give the guest a bochs-display (/dev/fb0) and the QEMU monitor on the
#       Unix socket SOCK (the host takes screendumps through it)
#   -o  extra kernel command-line words, e.g. 'opt_vivid="n_devs=2 node_types=0x1,0x1"'
#       (opt_<module>= sets module options; other dot-less K=V words become
#       environment variables of the command)
# Env: LIVEPUSH_HIL_CACHE (default <repo>/target/hil), LIVEPUSH_HIL_ACCEL=tcg|kvm
#      (default tcg unless /dev/kvm is real, usable VMX/SVM -- the kvm path is untested).
set -euo pipefail
HIL=$(cd "$(dirname "$0")" && pwd)
CACHE=${LIVEPUSH_HIL_CACHE:-$(cd "$HIL/../.." && pwd)/target/hil}
ARCH=amd64 MEM=512 TMO=120 XARGS="" DISPLAY_ARGS=()
usage() { sed -n '8,15p' "$0" >&2; exit 2; }
while getopts "a:m:t:o:d:h" o; do case $o in
  a) ARCH=$OPTARG ;; m) MEM=$OPTARG ;; t) TMO=$OPTARG ;; o) XARGS=$OPTARG ;;
  d) DISPLAY_ARGS=(-device bochs-display -monitor "unix:$OPTARG,server=on,wait=off") ;;
  *) usage ;; esac; done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
HOSTDIR=$(cd "$1" && pwd); shift
OUT=$CACHE/out/$ARCH
case $ARCH in
  amd64) KERNEL=$OUT/vmlinux QEMU=qemu-system-x86_64 CONSOLE=ttyS0 ;;
  arm64) KERNEL=$OUT/vmlinuz QEMU=qemu-system-aarch64 CONSOLE=ttyAMA0 ;;
  *) usage ;;
esac
INITRD=$OUT/initramfs.cpio
[ -f "$KERNEL" ] && [ -f "$INITRD" ] || { echo "run-guest: no guest for $ARCH in $OUT; run tests/hil/setup.sh $ARCH" >&2; exit 125; }

CTL=$(mktemp -d)
trap 'rm -rf "$CTL"' EXIT
printf '%s\n' "$*" > "$CTL/cmd.sh"

ACCEL=${LIVEPUSH_HIL_ACCEL:-tcg}
# /dev/kvm of the PVM flavour (kvm_pvm) runs only PVM guest kernels: never use it
if [ -z "${LIVEPUSH_HIL_ACCEL:-}" ] && [ "$ARCH" = amd64 ] && [ -w /dev/kvm ] \
   && grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm; fi
case $ARCH/$ACCEL in
  amd64/kvm) MACH=(-accel kvm -cpu host -M pc) ;;
  amd64/*)   MACH=(-accel tcg,thread=multi -cpu max -M pc) ;;      # boots the PVH vmlinux
  arm64/*)   MACH=(-accel tcg,thread=multi -cpu cortex-a72 -M virt) ;;
esac
APPEND="console=$CONSOLE panic=-1 quiet loglevel=3 rdinit=/init"
# skip the delay-loop calibration of the secondary CPU (~1 s under TCG)
[ "$ACCEL" = tcg ] && APPEND+=" lpj=10000000"
APPEND+=" $XARGS"
FS9P=local,security_model=none,multidevs=remap
T0=$(date +%s.%N)
qrc=0
timeout -k 5 "$TMO" "$QEMU" "${MACH[@]}" -m "$MEM" -smp 2 -nodefaults -no-user-config \
  -nic none -display none -serial stdio -no-reboot "${DISPLAY_ARGS[@]}" \
  -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" \
  -fsdev "$FS9P,id=fs0,path=${HOSTDIR//,/,,}" -device virtio-9p-pci,fsdev=fs0,mount_tag=share \
  -fsdev "$FS9P,id=fs1,path=$CTL" -device virtio-9p-pci,fsdev=fs1,mount_tag=ctl \
  < /dev/null || qrc=$?
[ -f "$CTL/dmesg.txt" ] && cp "$CTL/dmesg.txt" "$HOSTDIR/.rig-dmesg.txt"
echo "run-guest: arch=$ARCH accel=$ACCEL qemu_rc=$qrc wall=$(echo "$(date +%s.%N) $T0" | awk '{printf "%.1f", $1 - $2}')s" >&2
[ "$qrc" = 124 ] || [ "$qrc" = 137 ] && { echo "run-guest: timeout after ${TMO}s" >&2; exit 124; }
[ -s "$CTL/rc" ] || { echo "run-guest: the guest did not report an exit status" >&2; exit 125; }
exit "$(cat "$CTL/rc")"
