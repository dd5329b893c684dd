#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls it).
# Unit tests of the sans-IO core, then the loopback integration tests: the real
# binary against nginx-rtmp, the built-in receiver and fault servers, read back
# with ffprobe/ffmpeg, then the hardware-in-the-loop tier under qemu.
#   bash scripts/test.sh          everything (Debian packages: deps.sh tests hil package image)
#   bash scripts/test.sh --unit   the unit tests only (deps.sh demo), minutes
# Run as root it installs the Debian packages it needs (scripts/deps.sh);
# otherwise it prints the apt-get line and stops (exit 2) before building.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [[ ${1:-} == --unit ]]; then
  shift
  bash scripts/deps.sh demo
  cargo fmt --all -- --check
  # the core, the vendored RTMP crates and the binary's own unit tests
  cargo test --release --locked --workspace --lib --bins "$@"
  echo "unit tests took $(( $(date +%s) - start )) s"
  exit 0
fi
bash scripts/deps.sh tests hil package image
cargo fmt --all -- --check
# the default build (no GPL code) must build and refuse video.encoder = "x264"
cargo build --release --locked
cargo test --release --locked --test push x264
# everything, with the optional libx264 encoder built in
cargo test --release --workspace --locked --features x264,vaapi "$@"
# hardware in the loop: real kernel drivers (vivid, snd-aloop) under qemu, the
# x86_64 binary and the aarch64 one cross-built with Debian's gcc
hil_start=$(date +%s)
cargo build --release --locked --target aarch64-unknown-linux-gnu --features vaapi,x264
# the guests have no libva or libx264: the binaries they run are built without them
cargo build --release --locked --target aarch64-unknown-linux-gnu
bash tests/hil/setup.sh amd64 arm64
cargo test --release --locked --test hil -- --ignored --test-threads 1
# status LEDs (uleds, gpio-sim) and the framebuffer (bochs-display, screendump)
cargo test --release --locked --test hil_indicators -- --ignored --test-threads 1
# the control API on real devices: two vivid cameras, a gpio-sim torch
cargo test --release --locked --test hil_control -- --ignored --test-threads 1
echo "HIL tier took $(( $(date +%s) - hil_start )) s"
# the Debian packages (amd64, arm64): lintian, then install, upgrade with an
# edited conffile, remove, purge in a minimal Debian 12 chroot
bash packaging/build-deb.sh amd64 arm64
bash tests/package.sh
# the flashable images from those packages: the qemu-virt ones booted under
# qemu (publish, watchdog, power cut, bad config), the Raspberry Pi ones
# built and checked (image-build/README.md)
img_start=$(date +%s)
# the amd64 image (its own base; mostly unpacking) is built beside the
# arm64 one (maintainer scripts under qemu-user); the Pis share the arm64 base
mkdir -p target/images
bash image-build/build.sh qemu-virt-amd64 > target/images/qemu-virt-amd64.build.log 2>&1 &
amd64_build=$!
bash image-build/build.sh qemu-virt-arm64
amd64_ok=0; wait $amd64_build || amd64_ok=$?
cat target/images/qemu-virt-amd64.build.log
[ "$amd64_ok" = 0 ] || { echo "image-build qemu-virt-amd64 failed" >&2; exit 1; }
bash image-build/check.sh qemu-virt-arm64 qemu-virt-amd64
# the Pis (built from the arm64 base, checked, not booted) are built while
# the qemu-virt images boot: two guests at a time (their bounds are
# generous: minutes to publish, a watchdog gap of at least 20 s), so the
# tier fits CI's time
( for board in rpi4 rpi5; do bash image-build/build.sh "$board" || exit 1; done
  bash image-build/check.sh rpi4 rpi5 ) > target/images/rpi.build.log 2>&1 &
rpi_build=$!
boot_ok=0
cargo test --release --locked --test image -- --ignored --test-threads 2 || boot_ok=$?
rpi_ok=0; wait $rpi_build || rpi_ok=$?
cat target/images/rpi.build.log
[ "$rpi_ok" = 0 ] || { echo "image-build rpi4/rpi5 failed" >&2; exit 1; }
[ "$boot_ok" = 0 ] || { echo "the booted image tests failed" >&2; exit 1; }
echo "image tier took $(( $(date +%s) - img_start )) s"
echo "tests took $(( $(date +%s) - start )) s"
