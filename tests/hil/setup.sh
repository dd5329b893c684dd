#!/bin/bash
# tests/hil/setup.sh: builds the hardware-in-the-loop guest (Debian 12 kernel +
# initramfs with vivid, snd-aloop and virtio-9p) for run-guest.sh.
#
# Usage: tests/hil/setup.sh [amd64] [arm64]          (default: amd64; run as root)
#
# 1. installs the host packages that are missing (qemu, kmod, cpio, python3, ...);
# 2. downloads (apt-get download, nothing is installed) the kernel that
#    linux-image-$ARCH depends on, busybox-static, v4l-utils, alsa-utils and the
#    libraries, unpacks them into a scratch sysroot and runs depmod;
# 3. builds vicodec (virtual M2M codec) for that kernel with vicodec.sh and puts
#    it in the initramfs unloaded (/usr/bin/load-vicodec loads it, prints the node);
# 4. writes $CACHE/out/$ARCH/{vmlinux (amd64) | vmlinuz (arm64), initramfs.cpio}.
# CACHE = ${LIVEPUSH_HIL_CACHE:-<repo>/target/hil}.  A stamp (hash of this script and
# init.sh) makes reruns a no-op that takes well under a second.
set -euo pipefail
HIL=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HIL/../.." && pwd)
CACHE=${LIVEPUSH_HIL_CACHE:-$REPO/target/hil}
[ $# -gt 0 ] || set -- amd64
APT=(apt-get -o DPkg::Lock::Timeout=600 -q)
PY=/usr/bin/python3            # Debian's python3 (with lzma), not a pyenv shim
T0=$(date +%s.%N)
log() { echo "hil-setup: $*" >&2; }
# true when apt knows a version of package $1 (lists present for its architecture);
# grep without -q: an early exit would SIGPIPE apt-cache and fail the pipefail pipeline
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep 'Candidate: [^(]' >/dev/null; }

# ---- 1. host packages ---------------------------------------------------------
want=(kmod cpio python3 binutils xz-utils make gcc)
for a in "$@"; do
  case $a in
    amd64) want+=(qemu-system-x86) ;;
    arm64) want+=(qemu-system-arm gcc-aarch64-linux-gnu) ;;
    *) echo "usage: $0 [amd64] [arm64]" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${want[@]}"; do
  case $(dpkg-query -W -f '${Status}' "$p" 2>/dev/null) in *" ok installed") ;; *) missing+=("$p") ;; esac
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  has_candidate "${missing[0]}" || "${APT[@]}" update
  # --no-remove: never drop a host package silently (a backported qemu-utils, for
  # one, breaks Debian 12's qemu-system-*); apt fails and says why instead
  "${APT[@]}" install -y --no-install-recommends --no-remove "${missing[@]}"
fi
# ---- 2./3. per architecture ---------------------------------------------------
# The outputs are self-contained: once built they stay valid (even when Debian moves
# linux-image-$ARCH to a new ABI) until setup.sh or init.sh change, or out/ is removed.
KEY=$(cat "$HIL/setup.sh" "$HIL/init.sh" "$HIL/vicodec.sh" "$HIL/uleds-watch.c" | sha256sum | cut -c1-16)
build() {
  local ARCH=$1 TRIPLET KPKG KREL OUT=$CACHE/out/$1 DL=$CACHE/dl/$1 W=$CACHE/build/$1
  if [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$KEY" ] && [ -s "$OUT/initramfs.cpio" ]; then
    log "$ARCH up to date (kernel $(cat "$OUT/kernel-release"), $OUT)"; return
  fi
  case $ARCH in amd64) TRIPLET=x86_64-linux-gnu ;; arm64) TRIPLET=aarch64-linux-gnu ;; esac
  # a foreign architecture must be known to dpkg, and apt must have its package lists
  if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
    dpkg --print-foreign-architectures | grep -x "$ARCH" >/dev/null || { log "adding dpkg architecture $ARCH"; dpkg --add-architecture "$ARCH"; }
  fi
  # no package lists (a machine whose lists were cleaned): fetch them
  has_candidate "linux-image-$ARCH:$ARCH" || "${APT[@]}" update
  # the kernel ABI package the meta package points at (e.g. linux-image-6.1.0-56-amd64)
  KPKG=$(apt-cache depends "linux-image-$ARCH:$ARCH" | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ && !k { k = $2; sub(/:.*/, "", k) } END { print k }')
  [ -n "$KPKG" ] || { log "cannot resolve the kernel behind linux-image-$ARCH"; exit 1; }
  log "$ARCH: building from $KPKG"
  rm -f "$OUT/stamp"

  # -- download (kept in $DL; a package already there is not fetched again)
  local p get=() PKGS=("$KPKG" busybox-static v4l-utils libv4l-0 libv4lconvert0 libjpeg62-turbo
                       alsa-utils libasound2 libasound2-data libc6 libstdc++6 libgcc-s1)
  mkdir -p "$DL"
  for p in "${PKGS[@]}"; do
    ls "$DL/${p}"_*.deb >/dev/null 2>&1 && continue
    case $p in libasound2-data) get+=("$p") ;; *) get+=("$p:$ARCH") ;; esac  # -data is Architecture: all
  done
  # Sandbox::User=root: the download dir is not writable by _apt (silences a warning)
  [ ${#get[@]} -eq 0 ] || (cd "$DL" && "${APT[@]}" -o APT::Sandbox::User=root download "${get[@]}")

  # -- unpack into a scratch sysroot, generate modules.dep
  local SYS=$W/sysroot ROOT=$W/rootfs
  rm -rf "$W"; mkdir -p "$SYS"
  for p in "${PKGS[@]}"; do dpkg -x "$(ls "$DL/${p}"_*.deb | tail -1)" "$SYS"; done
  KREL=${KPKG#linux-image-}
  depmod -b "$SYS" "$KREL"

  # -- rootfs skeleton (merged /usr: /lib and /lib64 point to usr/lib)
  mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/lib/$TRIPLET,usr/share,etc,proc,sys,dev,tmp,run,share,ctl,root}
  ln -s usr/lib "$ROOT/lib"
  [ "$ARCH" = amd64 ] && ln -s usr/lib "$ROOT/lib64"
  cp "$SYS/bin/busybox" "$ROOT/bin/busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOT/etc/passwd"
  printf 'root:x:0:\n' > "$ROOT/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$ROOT/etc/hosts"

  # -- tools and their shared-library closure (NEEDED entries, recursively)
  local -A done_=()
  find_lib() { local d; for d in "$SYS/lib/$TRIPLET" "$SYS/usr/lib/$TRIPLET" "$SYS/lib" "$SYS/usr/lib"; do
      [ -e "$d/$1" ] && { echo "$d/$1"; return; }; done; log "$ARCH: library $1 not found"; exit 1; }
  add_closure() {
    local n l
    for n in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -n "${done_[$n]:-}" ] && continue
      done_[$n]=1; l=$(find_lib "$n")
      cp -L "$l" "$ROOT/usr/lib/$TRIPLET/$n"
      add_closure "$l"
    done
  }
  for p in v4l2-ctl aplay arecord amixer speaker-test; do
    cp -L "$SYS/usr/bin/$p" "$ROOT/usr/bin/"; add_closure "$SYS/usr/bin/$p"
  done
  # what a glibc-dynamic binary built on Debian 12 (the project's) links
  for p in libc.so.6 libm.so.6 libgcc_s.so.1 libstdc++.so.6 libasound.so.2; do
    [ -e "$ROOT/usr/lib/$TRIPLET/$p" ] || { cp -L "$(find_lib $p)" "$ROOT/usr/lib/$TRIPLET/"; add_closure "$(find_lib $p)"; }
  done
  # ld.so lives in the multiarch dir; the ELF interpreter path (/lib64/... or /lib/...) links to it
  local interp; interp=$(basename "$(readelf -l "$SYS/usr/bin/v4l2-ctl" | sed -n 's/.*interpreter: \(.*\)]/\1/p')")
  cp -L "$SYS/lib/$TRIPLET/$interp" "$ROOT/usr/lib/$TRIPLET/"
  ln -s "$TRIPLET/$interp" "$ROOT/usr/lib/$interp"
  cp -a "$SYS/usr/share/alsa" "$ROOT/usr/share/"          # alsa-lib reads alsa.conf even for hw:

  # -- kernel modules: dependency closure, in load order, listed in /etc/hil-modules
  local m kind path rel
  : > "$ROOT/etc/hil-modules"
  # configfs (gpio-sim), the LED triggers livepush uses, and bochs (a
  # framebuffer on qemu's bochs-display) for the status LED and display tests
  for m in virtio_pci virtio_mmio 9pnet_virtio 9p vivid snd-aloop configfs \
           ledtrig-timer ledtrig-pattern bochs i2c-dev; do
    modprobe -d "$SYS" -S "$KREL" --show-depends "$m" > "$W/deps"
    while read -r kind path _; do
      [ "$kind" = insmod ] || continue                       # "builtin ..." needs nothing
      rel=${path#"$SYS"}
      grep -qxF "$rel" "$ROOT/etc/hil-modules" && continue
      mkdir -p "$ROOT$(dirname "$rel")"; cp "$path" "$ROOT$rel"
      echo "$rel" >> "$ROOT/etc/hil-modules"
    done < "$W/deps"
  done

  # -- vicodec, not loaded at boot (its nodes would follow vivid's): load-vicodec
  local X=$ROOT/lib/modules/$KREL/extra
  bash "$HIL/vicodec.sh" "$ARCH" "$KPKG" "$DL" "$W/vicodec" "$X"
  # arm64's Debian kernel ships v4l2-mem2mem (amd64's is built by vicodec.sh)
  [ -e "$X/v4l2-mem2mem.ko" ] || cp "$(find "$SYS/lib/modules/$KREL" -name 'v4l2-mem2mem.ko')" "$X/"
  # i2c-stub: not loaded at boot (it needs its chip address); amd64's is Debian's
  [ -e "$X/i2c-stub.ko" ] || cp "$(find "$SYS/lib/modules/$KREL" -name 'i2c-stub.ko')" "$X/"
  # irq_sim, gpio-sim and uleds load at boot, after configfs
  for m in irq_sim gpio-sim uleds; do echo "/lib/modules/$KREL/extra/$m.ko" >> "$ROOT/etc/hil-modules"; done
  # uleds-watch: creates an LED and prints what the kernel sets on it
  local cc=gcc; [ "$ARCH" = arm64 ] && cc=aarch64-linux-gnu-gcc
  "$cc" -O2 -Wall -o "$ROOT/usr/bin/uleds-watch" "$HIL/uleds-watch.c"
  cat > "$ROOT/usr/bin/load-vicodec" <<'EOS'
#!/bin/sh
# loads vicodec (arguments: its module options) and prints its encoder node
K=/lib/modules/$(uname -r)/extra
insmod $K/v4l2-mem2mem.ko && insmod $K/vicodec.ko "$@" || exit 1
for i in 1 2 3 4 5 6 7 8 9 10; do
  for d in /sys/class/video4linux/video*; do
    [ "$(cat $d/name)" = stateful-encoder ] && [ -e /dev/${d##*/} ] && { echo /dev/${d##*/}; exit 0; }
  done
  sleep 0.1
done
exit 1
EOS
  chmod 755 "$ROOT/usr/bin/load-vicodec"

  install -m 755 "$HIL/init.sh" "$ROOT/init"
  mkdir -p "$OUT"
  # uncompressed cpio: the kernel unpacks it faster under TCG than a compressed one
  (cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$OUT/initramfs.cpio.new"
  mv "$OUT/initramfs.cpio.new" "$OUT/initramfs.cpio"
  if [ "$ARCH" = amd64 ]; then
    # the ELF vmlinux inside the xz bzImage: qemu boots it through the PVH entry
    # point, skipping SeaBIOS and the decompressor (~3.5 s faster under TCG)
    "$PY" -c 'import lzma, sys
d = open(sys.argv[1], "rb").read(); o = d.find(b"\xfd7zXZ\x00")
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(d[o:]))' \
      "$SYS/boot/vmlinuz-$KREL" "$OUT/vmlinux"
  else
    cp "$SYS/boot/vmlinuz-$KREL" "$OUT/vmlinuz"               # arm64: a plain Image
  fi
  echo "$KREL" > "$OUT/kernel-release"
  log "$ARCH: $(wc -l < "$ROOT/etc/hil-modules") modules, initramfs $(du -h "$OUT/initramfs.cpio" | cut -f1), kernel $KREL"
  rm -rf "$W"                                                # the .debs stay in $DL
  echo "$KEY" > "$OUT/stamp"
}
for a in "$@"; do build "$a"; done
rmdir "$CACHE/build" 2>/dev/null || true
log "done in $(echo "$(date +%s.%N) $T0" | awk '{printf "%.1f", $1 - $2}')s; outputs in $CACHE/out"
