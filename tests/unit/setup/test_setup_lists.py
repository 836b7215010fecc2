#!/usr/bin/env python3
"""setup.sh installs every program the image build scripts check for.

usage: test_setup_lists.py SRCDIR

Each `img_need PROGRAM PACKAGE ...` pair in guest/image/*.sh must be in
setup.sh: PACKAGE in PACKAGES, or PROGRAM:PACKAGE in IMAGE_PROGRAMS.
"""
import glob
import os
import re
import shlex
import sys


def shell_list(text, name):
    m = re.search(r'^%s="([^"]*)"' % name, text, re.M)
    if not m:
        raise SystemExit('setup.sh has no %s="..." list' % name)
    return m.group(1).split()


def needs(script_text):
    """(program, package) pairs of every img_need call."""
    joined = script_text.replace('\\\n', ' ')
    out = []
    for line in joined.split('\n'):
        words = shlex.split(line.split('#')[0]) if line.strip() else []
        if words[:1] != ['img_need']:
            continue
        args = words[1:]
        out += list(zip(args[0::2], args[1::2]))
    return out


def missing(setup_text, scripts):
    packages = set(shell_list(setup_text, 'PACKAGES'))
    programs = set(shell_list(setup_text, 'IMAGE_PROGRAMS'))
    bad = []
    for name, text in scripts.items():
        for prog, pkg in needs(text):
            if pkg not in packages and '%s:%s' % (prog, pkg) not in programs:
                bad.append('%s: %s (%s)' % (name, prog, pkg))
    return bad


def main():
    src = sys.argv[1]
    setup = open(os.path.join(src, 'setup.sh')).read()
    scripts = {os.path.basename(p): open(p).read()
               for p in glob.glob(os.path.join(src, 'guest', 'image', '*.sh'))}
    results = []
    pairs = needs(scripts.get('build-agent-image.sh', ''))
    results.append(('build-agent-image.sh checks for programs with img_need',
                    ('debootstrap', 'debootstrap') in pairs, pairs))
    bad = missing(setup, scripts)
    results.append(('setup.sh installs every program the image scripts need',
                    not bad, ', '.join(bad)))
    # the check itself catches a program dropped from setup.sh
    cut = re.sub(r'debootstrap:debootstrap ?', '', setup)
    results.append(('a setup.sh without debootstrap is caught',
                    any('debootstrap' in b for b in missing(cut, scripts)),
                    'not caught'))
    nfail = 0
    for name, ok, why in results:
        print(('ok   %s' % name) if ok else ('FAIL %s: %s' % (name, why)))
        nfail += not ok
    print('%d passed, %d failed' % (len(results) - nfail, nfail))
    sys.exit(1 if nfail else 0)


if __name__ == '__main__':
    main()
