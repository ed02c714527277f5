#!/bin/sh
# Regression test of tools/debian13-env itself, run by .ci/run on the host
# (it needs root and the chroot, so it cannot run inside meson test):
#  - a checkout under /tmp works (the chroot's own /tmp is a tmpfs, which
#    used to hide the checkout's mount point: exit 1, no message);
#  - errors of the set-up stage reach stderr (the lock-file redirection used
#    to swallow them).
set -u

here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/gimp-vae-env-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail () { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/x/tools"
cp "$here/tools/debian13-env" "$tmp/x/tools/"
echo marker >"$tmp/x/marker"
out=$(cd "$tmp/x" && tools/debian13-env sh -c 'pwd; cat marker' 2>&1) \
  || fail "a checkout under /tmp: $out"
[ "$out" = "$tmp/x
marker" ] || fail "a checkout under /tmp ran in the wrong place: $out"

# /proc cannot hold a chroot: set-up fails at once and must say so.
err=$(cd "$tmp/x" && GIMP_VAE_CHROOT=/proc/gimp-vae-no-such-root tools/debian13-env true 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] || fail "set-up into /proc succeeded"
case "$err" in
  *debian13-env:*) ;;
  *) fail "set-up failed silently (exit $rc, stderr '$err')" ;;
esac
echo "ok: debian13-env runs from /tmp and reports set-up errors"
