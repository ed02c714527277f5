#!/bin/sh
# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The translations are complete and current: every C file of plugin/ and
# ui/ with translatable strings is in po/POTFILES, and every language in
# po/LINGUAS translates every string those files have now (msgcmp fails on
# a missing or untranslated one; msgfmt --check on format mismatches).
#
#   check-po.sh SOURCE_ROOT
set -eu

top=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

cd "$top"
for file in plugin/*.c ui/*.c; do
  if grep -q '_ *("' "$file" && ! grep -qx "$file" po/POTFILES; then
    echo "not in po/POTFILES: $file"
    status=1
  fi
done

xgettext --package-name=gimp-vae --from-code=UTF-8 --add-comments=TRANSLATORS: \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dngettext:2,3 -f po/POTFILES -o "$tmp/gimp-vae.pot"

for lang in $(cat po/LINGUAS); do
  if ! msgcmp "po/$lang.po" "$tmp/gimp-vae.pot"; then
    echo "po/$lang.po is missing translations (update it with msgmerge)"
    status=1
  fi
  msgfmt --check --statistics -o /dev/null "po/$lang.po" || status=1
done

exit $status
