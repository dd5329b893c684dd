#!/usr/bin/env bash
# The Debian package, installed for real: in a minimal Debian 12 chroot (the
# fresh-machine test's minbase root filesystem, cached), with dpkg and apt:
#   1. install with apt (its dependencies come from Debian's mirror): the
#      livepush user in its device groups, the conffile root:livepush 0640,
#      the unit enabled, the binary runs and accepts the shipped example;
#   2. upgrade (a newer version, same conffile) after the admin edited the
#      configuration: the edit is kept, silently;
#   3. upgrade to a version whose packaged configuration changed, keeping the
#      admin's (--force-confold, what an unattended upgrade does): the edit is
#      kept and the new default sits beside it as .dpkg-dist;
#   4. remove: the binary goes, the configuration stays;
#   5. purge: the configuration, the cache and the unit's enablement go;
#   6. install again after the purge.
# Also: lintian on both packages (clean but for the overrides the package
# carries and explains), and the unit's exposure score from
# `systemd-analyze security --offline=yes`, printed.
#
# Usage: bash tests/package.sh [DEB_AMD64 [DEB_ARM64]]
#   (default: target/debian/livepush_*_{amd64,arm64}.deb, built by
#   packaging/build-deb.sh). Root, Debian's mirror; packages: deps.sh package.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
[[ $(id -u) == 0 ]] || { echo "package test: run as root (chroot)" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
deb=${1:-target/debian/livepush_${version}-1_amd64.deb}
deb_arm=${2:-target/debian/livepush_${version}-1_arm64.deb}
for d in "$deb" "$deb_arm"; do
  [[ -s $d ]] || { echo "package test: no $d (bash packaging/build-deb.sh)" >&2; exit 2; }
done
fail() { echo "package test: FAIL: $*" >&2; exit 1; }

echo "== lintian"
for d in "$deb" "$deb_arm"; do
  rc=0
  out=$(lintian --fail-on error,warning "$d" 2>&1) || rc=$?
  out=$(grep -v 'running with root privileges' <<<"$out" || true)
  [[ $rc == 0 && -z $out ]] || fail "lintian on $d (exit $rc): $out"
  echo "lintian: $(basename "$d"): clean ($(lintian --show-overrides "$d" 2>/dev/null | grep -c '^O:') overridden tags, each explained in packaging/debian/lintian-overrides)"
done

echo "== the unit's exposure score"
score=$(systemd-analyze security --offline=yes packaging/livepush.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
[[ -n $score ]] || fail "systemd-analyze security printed no score"
echo "systemd-analyze security livepush.service: $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score above 2.0"

# the three versions: as built, a newer one with the same conffile, and a
# newer one whose packaged configuration changed
work=$(mktemp -d /tmp/livepush-pkg.XXXXXX)
root=$work/root
cleanup() {
  for m in proc sys dev; do mountpoint -q "$root/$m" && umount -R "$root/$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
repack() { # DEB VERSION OUT [CONF_LINE]
  local x=$work/x
  rm -rf "$x"
  dpkg-deb -R "$1" "$x"
  sed -i "s/^Version: .*/Version: $2/" "$x/DEBIAN/control"
  [[ -z ${4:-} ]] || printf '%s\n' "$4" >> "$x/etc/livepush/livepush.toml"
  dpkg-deb --root-owner-group -Zxz -b "$x" "$3" >/dev/null
}
mkdir -p "$root"
repack "$deb" "${version}-2" "$work/v2.deb"
repack "$deb" "${version}-3" "$work/v3.deb" '# a default added in -3'

tarball=$(bash scripts/minbase.sh)
tar -xf "$tarball" -C "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/v1.deb"
cp "$work/v2.deb" "$work/v3.deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
conf=$root/etc/livepush/livepush.toml

echo "== 1. install (apt, dependencies from Debian)"
in_root apt-get -q update >/dev/null
in_root apt-get -q install -y --no-install-recommends /tmp/v1.deb >"$work/apt.log" 2>&1 \
  || { tail -20 "$work/apt.log"; fail "apt-get install"; }
# (grep on a here-string, not a pipe: with pipefail a grep -q that leaves
# early could fail the writer with SIGPIPE)
grep -q "install ok installed ${version}-1" <<<"$(in_root dpkg-query -W -f '${Status} ${Version}\n' livepush)" \
  || fail "not installed"
groups=$(in_root id -nG livepush) || fail "no livepush user"
for g in video audio render gpio i2c spi leds; do
  [[ " $groups " == *" $g "* ]] || fail "livepush is not in group $g ($groups)"
done
[[ $(in_root getent passwd livepush | cut -d: -f7) == /usr/sbin/nologin ]] || fail "livepush has a login shell"
[[ $(in_root stat -c '%U:%G %a' /etc/livepush/livepush.toml) == "root:livepush 640" ]] || fail "conffile is $(in_root stat -c '%U:%G %a' /etc/livepush/livepush.toml)"
[[ -L $root/etc/systemd/system/multi-user.target.wants/livepush.service ]] || fail "the unit is not enabled"
[[ -f $root/usr/lib/udev/rules.d/60-livepush.rules && -f $root/usr/share/livepush/boards/rpi4.toml ]] \
  || fail "udev rules or board profiles missing"
# the binary runs on Debian 12 with the dependencies the package declared,
# and the configuration it ships is valid (as the livepush user reads it)
in_root setpriv --reuid=livepush --regid=livepush --init-groups \
  /usr/bin/livepush check-config /etc/livepush/livepush.toml >"$work/check.log" 2>&1 \
  || { cat "$work/check.log"; fail "the shipped configuration does not check"; }
echo "installed: user livepush in ($groups), conffile root:livepush 0640, unit enabled, check-config passes"

echo "== 2. upgrade after an edit (same packaged configuration)"
sed -i 's/^mode = .*/mode = "SD"   # edited on this box/' "$conf"
grep -q 'edited on this box' "$conf" || fail "the edit did not take"
in_root dpkg -i /tmp/v2.deb </dev/null >"$work/v2.log" 2>&1 || { cat "$work/v2.log"; fail "upgrade to -2"; }
grep -q 'edited on this box' "$conf" || fail "the upgrade lost the edit"
[[ ! -e $conf.dpkg-dist && ! -e $conf.dpkg-old ]] || fail "an unchanged conffile left .dpkg-* files"
[[ $(in_root stat -c '%U:%G %a' /etc/livepush/livepush.toml) == "root:livepush 640" ]] || fail "upgrade changed the conffile's owner or mode"
echo "upgraded to ${version}-2: the edit kept, nothing asked"

echo "== 3. upgrade to a changed packaged configuration (--force-confold)"
in_root dpkg -i --force-confold /tmp/v3.deb </dev/null >"$work/v3.log" 2>&1 || { cat "$work/v3.log"; fail "upgrade to -3"; }
grep -q 'edited on this box' "$conf" || fail "the upgrade lost the edit"
grep -q 'a default added in -3' "$conf.dpkg-dist" || fail "no .dpkg-dist with the new default"
echo "upgraded to ${version}-3: the edit kept, the new default in livepush.toml.dpkg-dist"

echo "== 4. remove"
mkdir -p "$root/var/cache/livepush" && echo cached > "$root/var/cache/livepush/waiting.yuv"
in_root dpkg -r livepush >"$work/rm.log" 2>&1 || { cat "$work/rm.log"; fail "remove"; }
[[ ! -e $root/usr/bin/livepush && ! -e $root/usr/lib/systemd/system/livepush.service ]] || fail "remove left the program"
grep -q 'edited on this box' "$conf" || fail "remove deleted the configuration"
echo "removed: the program gone, the configuration kept"

echo "== 5. purge"
in_root dpkg -P livepush >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge"; }
[[ ! -e $root/etc/livepush ]] || fail "purge left /etc/livepush: $(ls -A "$root/etc/livepush")"
[[ ! -e $root/var/cache/livepush ]] || fail "purge left the cache"
[[ ! -e $root/etc/systemd/system/multi-user.target.wants/livepush.service ]] || fail "purge left the unit enabled"
if grep -q 'ok installed' <<<"$(in_root dpkg-query -W -f '${Status}\n' livepush 2>/dev/null)"; then fail "still installed"; fi
echo "purged: configuration, cache and enablement gone (the livepush user stays, as Debian does for system users)"

echo "== 6. install again"
in_root dpkg -i /tmp/v1.deb </dev/null >"$work/again.log" 2>&1 || { cat "$work/again.log"; fail "reinstall"; }
[[ $(in_root stat -c '%U:%G %a' /etc/livepush/livepush.toml) == "root:livepush 640" ]] || fail "reinstall: conffile $(in_root stat -c '%U:%G %a' /etc/livepush/livepush.toml)"
echo "reinstalled"
echo "package test: passed in $(( $(date +%s) - t0 )) s"
