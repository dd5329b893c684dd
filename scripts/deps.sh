#!/usr/bin/env bash
# The Debian packages livepush needs, one list per purpose, in one place:
# scripts/demo.sh, scripts/test.sh, scripts/fuzz.sh and .ci/run all call this.
#
# Usage: bash scripts/deps.sh PURPOSE...        purposes: build demo tests hil package image fuzz fresh
#        bash scripts/deps.sh --list PURPOSE... prints the packages, one per line
#
# As root on Debian/Ubuntu: installs what is missing (one `apt-get update`,
# only when something is missing). Not root: prints the exact `apt-get
# install` line for what is missing and exits 2, before anything is built.
# Nothing missing: prints nothing and exits 0.
set -euo pipefail

# build: g++ (OpenH264 and FDK AAC are C++), nasm (OpenH264's x86 assembly),
#   pkg-config and libasound2-dev (alsa-sys), clang and libclang-dev
#   (bindgen in v4l2-sys-mit, and in x264-sys/cros-libva for the features)
build=(g++ nasm pkg-config libasound2-dev clang libclang-dev)
# demo: ffprobe reads the recording back
demo=("${build[@]}" ffmpeg)
# tests (loopback tiers): nginx with the rtmp and stream modules (the real RTMP
#   server, TLS in front of it), ffmpeg (the oracle), openssl (a test CA),
#   python3 (a PNG bomb), the optional encoders' libraries (x264, vaapi),
#   chromium (the status page in a real browser, headless)
tests=("${demo[@]}" nginx libnginx-mod-rtmp libnginx-mod-stream ca-certificates openssl
  python3 libx264-dev libva-dev systemd chromium)
# hil: qemu for both guests, what tests/hil/setup.sh unpacks the guest with,
#   make (vicodec for the guest kernels), and the aarch64 cross build
hil=(qemu-system-x86 qemu-system-arm kmod cpio python3 binutils xz-utils make
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
  libasound2-dev:arm64 libva-dev:arm64 libx264-dev:arm64)
# package: the Debian package built (cargo-deb calls dpkg-shlibdeps) and
#   checked (lintian), installed in a minbase chroot (mmdebstrap), and the
#   unit's exposure score (systemd-analyze)
package=(dpkg-dev lintian mmdebstrap ca-certificates systemd)
# image: the images (image-build/): mmdebstrap (arch-test for a foreign
#   architecture, qemu-user-static + binfmt-support to run arm64 maintainer
#   scripts), the filesystems and the disk (dosfstools, mtools, fdisk,
#   e2fsprogs, file), and booting them (UEFI firmware for both machines,
#   qemu, ssh into the box)
image=(mmdebstrap arch-test qemu-user-static binfmt-support dosfstools mtools fdisk e2fsprogs
  file ca-certificates qemu-efi-aarch64 ovmf qemu-system-arm qemu-system-x86 openssh-client
  nginx libnginx-mod-rtmp ffmpeg)
# fuzz: cargo-fuzz builds libFuzzer (C++)
fuzz=(g++)
# fresh: the fresh-machine test's root filesystem
fresh=(mmdebstrap ca-certificates git)

list=0
if [[ ${1:-} == --list ]]; then
  list=1
  shift
fi
(($#)) || { echo "usage: $0 [--list] build|demo|tests|hil|package|image|fuzz|fresh ..." >&2; exit 64; }
want=()
for purpose in "$@"; do
  case $purpose in
    build) want+=("${build[@]}") ;;
    demo) want+=("${demo[@]}") ;;
    tests) want+=("${tests[@]}") ;;
    hil) want+=("${hil[@]}") ;;
    package) want+=("${package[@]}") ;;
    image) want+=("${image[@]}") ;;
    fuzz) want+=("${fuzz[@]}") ;;
    fresh) want+=("${fresh[@]}") ;;
    *) echo "deps: unknown purpose $purpose (build demo tests hil package image fuzz fresh)" >&2; exit 64 ;;
  esac
done
# one of each, in order
mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')
if ((list)); then
  printf '%s\n' "${want[@]}"
  exit 0
fi

if ! command -v dpkg-query >/dev/null; then
  echo "deps: not a Debian/Ubuntu system (no dpkg-query); install the equivalents of: ${want[*]}" >&2
  exit 2
fi
missing=()
foreign=()
for p in "${want[@]}"; do
  case $(dpkg-query -W -f '${Status}' "$p" 2>/dev/null) in
    *" ok installed") ;;
    *)
      missing+=("$p")
      [[ $p == *:* ]] && foreign+=("${p##*:}")
      ;;
  esac
done
((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]]; then
  echo "deps: missing Debian packages; install them with:" >&2
  for a in $(printf '%s\n' "${foreign[@]}" | sort -u); do
    dpkg --print-foreign-architectures | grep -qx "$a" || echo "  sudo dpkg --add-architecture $a" >&2
  done
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 2
fi
for a in $(printf '%s\n' "${foreign[@]}" | sort -u); do
  dpkg --print-foreign-architectures | grep -qx "$a" || dpkg --add-architecture "$a"
done
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
