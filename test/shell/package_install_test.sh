#!/usr/bin/env bash
# The install test of the Debian packages (scripts/package --check runs it):
# a fresh Debian 12 root made by debootstrap, with only what the packages
# depend on (and man-db), the packages installed there with dpkg -i, and
# there, as a site would use them:
#   caster --version and catcher --version name the version and the commit;
#   man -w finds catcher(8), catcher.conf(5), catcher-policy(5), caster(1);
#   the system user catcher exists and owns /var/lib/catcher, mode 0750;
#   the units are installed and not enabled; config and policy are conffiles;
#   caster signs a list of a file:// image there, the admin edits the two
#   files, and `runuser -u catcher -- catcher run --once` caches the image
#   byte for byte; a second dpkg -i (an upgrade) keeps the edited files.
# Usage: package_install_test.sh PACKAGE_DIR COMMIT   (as root)
set -euo pipefail
export LC_ALL=C
out=$(cd "$1" && pwd) commit=$2
here=$(cd "$(dirname "$0")" && pwd)
mirror=${VMC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
chroot_dir=$out/root
version=$(dpkg-deb -f "$out"/catcher_*.deb Version)

fail() { echo "FAIL: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*" >&2; }
in_root() { chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
unmount() {
  for m in proc dev/pts dev; do
    mountpoint -q "$chroot_dir/$m" && umount -l "$chroot_dir/$m"
  done
  return 0
}
trap unmount EXIT

# What the packages depend on, each dependency's first alternative, without
# versions; dpkg -i must then install them without apt's help.
depends() {
  for deb in "$out"/caster_*.deb "$out"/catcher_*.deb; do
    dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g'
  done | sort -u | paste -sd, -
}

say "a fresh Debian 12 root ($chroot_dir) from $mirror"
unmount
rm -rf "$chroot_dir"
mkdir -p "$out/debootstrap-cache"
debootstrap --variant=minbase --include="$(depends),man-db" \
  --cache-dir="$out/debootstrap-cache" bookworm "$chroot_dir" "$mirror" > "$out/debootstrap.log" 2>&1 ||
  { tail -20 "$out/debootstrap.log" >&2; fail "debootstrap failed (log: $out/debootstrap.log)"; }
mount -t proc proc "$chroot_dir/proc"
mount --bind /dev "$chroot_dir/dev"
mount --bind /dev/pts "$chroot_dir/dev/pts"

say "dpkg -i the packages"
mkdir -p "$chroot_dir/tmp/debs"
cp "$out"/caster_*.deb "$out"/catcher_*.deb "$chroot_dir/tmp/debs/"
in_root sh -c 'dpkg -i /tmp/debs/*.deb' >&2

say "what the packages installed"
for tool in caster catcher; do
  text=$(in_root "$tool" --version)
  grep -qF "$tool $version" <<<"$text" || fail "$tool --version says: $text"
  grep -qF "$commit" <<<"$text" || fail "$tool --version names no commit $commit: $text"
  echo "$tool --version: $(head -1 <<<"$text")" >&2
done
for page in catcher.8 catcher.conf.5 catcher-policy.5 caster.1; do
  name=${page%.*} section=${page##*.}
  path=$(in_root man -w "$section" "$name") || fail "man -w $section $name found nothing"
  echo "man -w $section $name: $path" >&2
done
in_root getent passwd catcher >/dev/null || fail "no user catcher"
in_root getent group catcher >/dev/null || fail "no group catcher"
owner=$(in_root stat -c '%U:%G %a' /var/lib/catcher)
[[ $owner == "catcher:catcher 750" ]] || fail "/var/lib/catcher is $owner, not catcher:catcher 750"
echo "/var/lib/catcher: $owner" >&2
for unit in catcher.service catcher-once.service catcher.timer; do
  [[ -f $chroot_dir/lib/systemd/system/$unit ]] || fail "$unit not installed"
done
wants=$(find "$chroot_dir/etc/systemd/system" -name 'catcher*' 2>/dev/null || true)
[[ -z $wants ]] || fail "units enabled at install: $wants"
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' catcher)
for file in /etc/catcher/catcher.conf /etc/catcher/policy.json; do
  grep -qF " $file " <<<"$conffiles" || fail "$file is no conffile: $conffiles"
done
echo "units installed, none enabled; conffiles: catcher.conf, policy.json" >&2

say "caster signs a list of a local image; the admin edits the two files"
bash "$here/../pki/make-pki" "$chroot_dir/srv/pki" > /dev/null
mkdir -p "$chroot_dir/srv/images" "$chroot_dir/srv/lists"
head -c $((4 * 1024 * 1024)) /dev/urandom > "$chroot_dir/srv/images/appliance.img"
chmod -R a+rX "$chroot_dir/srv/images" "$chroot_dir/srv/lists" "$chroot_dir/srv/pki/cadir"
C=(env HOME=/root caster)
list=$(in_root "${C[@]}" list create --title "Install test" --description "The package install test" \
  --source install-test.invalid --uri file:///srv/lists/test.list)
image=$(in_root "${C[@]}" image add "$list" --uri file:///srv/images/appliance.img \
  --file /srv/images/appliance.img --title "Install test appliance" --set hv:format=raw)
in_root "${C[@]}" sign "$list" --cert /srv/pki/endorser1/cert.pem --key /srv/pki/endorser1/key.pem \
  -o /srv/lists/test.list
chmod a+r "$chroot_dir/srv/lists/test.list"
sed -i 's#^ca-dir = .*#ca-dir = /srv/pki/cadir#' "$chroot_dir/etc/catcher/catcher.conf"
cat > "$chroot_dir/etc/catcher/policy.json" <<'POLICY'
// The install test's policy: one endorser, one local list.
{
  "endorsers": {
    "test": {"dn": "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One",
             "ca": "/C=DE/O=Test Grid/CN=Test Intermediate CA"}
  },
  "subscriptions": [
    {"name": "install-test", "url": "file:///srv/lists/test.list", "endorser": "test"}
  ]
}
POLICY

say "runuser -u catcher -- catcher run --once"
in_root runuser -u catcher -- catcher run --once >&2 || fail "catcher run --once as catcher exited $?"
cached=$chroot_dir/var/lib/catcher/cache/$image
[[ -f $cached ]] || fail "no cached image at /var/lib/catcher/cache/$image"
cmp -s "$cached" "$chroot_dir/srv/images/appliance.img" || fail "the cached image differs from the published one"
state=$(in_root runuser -u catcher -- catcher images --json)
grep -qF '"cached"' <<<"$state" || fail "catcher images --json shows nothing cached: $state"
echo "cached $image, byte for byte; owned by $(in_root stat -c %U "/var/lib/catcher/cache/$image")" >&2

say "an upgrade (dpkg -i again) keeps the admin's files"
in_root sh -c 'dpkg -i /tmp/debs/*.deb' > /dev/null 2>&1 || fail "the second dpkg -i failed"
grep -q '^ca-dir = /srv/pki/cadir' "$chroot_dir/etc/catcher/catcher.conf" || fail "the edited config was replaced"
grep -q 'install-test' "$chroot_dir/etc/catcher/policy.json" || fail "the edited policy was replaced"

echo "package install test: passed" >&2
