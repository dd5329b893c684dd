#!/usr/bin/env bash
# The fresh-machine test (.ci/run calls it): README's two commands in a
# minimal Debian 12 root filesystem that has nothing but what Debian's
# minbase variant installs. A fresh clone of the repository's committed HEAD
# goes into it, with the host's Rust toolchain (rustup, read-only) and cargo
# registry (downloads only) made available; the build's target directory is
# new, so no compiled artefact hides a missing package. Inside, as root:
#   bash scripts/demo.sh --seconds 3    must succeed and leave an FLV that
#                                       ffmpeg decodes without an error;
#   bash scripts/test.sh --unit         must pass.
# Both commands install their Debian packages themselves (scripts/deps.sh).
# The root filesystem tarball is cached in $LIVEPUSH_FRESH_CACHE (default
# target/fresh); needs root (chroot, bind mounts) and Debian's mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
t0=$(date +%s)
bash scripts/deps.sh fresh
[[ $(id -u) == 0 ]] || { echo "fresh-machine: run as root (chroot, mounts)" >&2; exit 2; }
tarball=$(bash scripts/minbase.sh)
echo "fresh-machine: root filesystem ready after $(( $(date +%s) - t0 )) s"

root=$(mktemp -d /tmp/livepush-fresh.XXXXXX)
cleanup() {
  for m in proc sys dev opt/rustup opt/cargo/bin opt/cargo/registry; do
    mountpoint -q "$root/$m" && umount -R "$root/$m" || true
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -xf "$tarball" -C "$root"
# a fresh clone: what is committed, nothing else
git clone -q "$REPO" "$root/root/livepush"
# the toolchain the brief allows ("only the Rust toolchain"), and the crate
# downloads (not the compiled ones)
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
mkdir -p "$root/opt/rustup" "$root/opt/cargo/bin" "$root/opt/cargo/registry" "$cargo_home/registry"
mount --bind "$rustup_home" "$root/opt/rustup"
mount -o remount,bind,ro "$root/opt/rustup"
mount --bind "$cargo_home/bin" "$root/opt/cargo/bin"
mount -o remount,bind,ro "$root/opt/cargo/bin"
mount --bind "$cargo_home/registry" "$root/opt/cargo/registry"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# the network as the host has it: its name servers above, and the CAs it
# trusts (a network whose HTTPS goes through an intercepting proxy has that
# proxy's CA in the host's bundle; cargo inside must trust it as the host does)
cainfo=
for b in "${CARGO_HTTP_CAINFO:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
  if [[ -n $b && -s $b ]]; then
    cp "$b" "$root/opt/host-ca.crt"
    cainfo=CARGO_HTTP_CAINFO=/opt/host-ca.crt
    break
  fi
done

inside() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/opt/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUSTUP_HOME=/opt/rustup CARGO_HOME=/opt/cargo $cainfo \
    bash -c "cd /root/livepush && $1"
}
t=$(date +%s)
inside "bash scripts/demo.sh --seconds 3"
inside "test -s livepush-demo.flv && ffmpeg -v error -xerror -i livepush-demo.flv -f null - 2>decode.err && ! test -s decode.err" || {
  echo "fresh-machine: the demo's recording does not decode cleanly:" >&2
  cat "$root/root/livepush/decode.err" >&2 || true
  exit 1
}
echo "fresh-machine: demo ok in $(( $(date +%s) - t )) s; recording decodes"
t=$(date +%s)
inside "bash scripts/test.sh --unit"
echo "fresh-machine: unit tests ok in $(( $(date +%s) - t )) s"
echo "fresh-machine test took $(( $(date +%s) - t0 )) s"
