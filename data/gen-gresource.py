#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the GResource description compiled into libvae to stdout.

    gen-gresource.py models.json DATA_DIR

It always holds the registry (models.json).  It also holds the weight file
of each model the registry marks "embedded" whose file is in
DATA_DIR/models/ID/, so that a build works before the weights exist and
embeds them once they do.  A file that disagrees with the registry's size
or SHA-256 is embedded anyway, with a warning on stderr: the registry test
fails on it, the build does not.
"""

import hashlib
import json
import os
import sys
from xml.sax.saxutils import escape

PREFIX = '/org/gimp-vae'


def main():
    registry_path, data_dir = sys.argv[1], sys.argv[2]
    with open(registry_path, encoding='utf-8') as f:
        registry = json.load(f)

    files = ['models.json']
    for model in registry.get('models', []):
        if not model.get('embedded'):
            continue
        first = model['files'][0]
        rel = 'models/%s/%s' % (model['id'], first['name'])
        path = os.path.join(data_dir, rel)
        if not os.path.isfile(path):
            print('gen-gresource: %s is not there; %s is not embedded'
                  % (rel, model['id']), file=sys.stderr)
            continue
        size = os.path.getsize(path)
        if first.get('size') is not None and first['size'] != size:
            print('gen-gresource: warning: %s has %d bytes, models.json says %d'
                  % (rel, size, first['size']), file=sys.stderr)
        if first.get('sha256'):
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if digest != first['sha256']:
                print('gen-gresource: warning: %s has SHA-256 %s, models.json says %s'
                      % (rel, digest, first['sha256']), file=sys.stderr)
        files.append(rel)

    print('<?xml version="1.0" encoding="UTF-8"?>')
    print('<gresources>')
    print('  <gresource prefix="%s">' % PREFIX)
    for rel in files:
        print('    <file>%s</file>' % escape(rel))
    print('  </gresource>')
    print('</gresources>')


if __name__ == '__main__':
    main()
