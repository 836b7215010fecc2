#!/usr/bin/env python3
"""Bash completion of capsemctl (cli/capsemctl.bash) in a real bash.

usage: test_bashcomp.py COMPLETION_SCRIPT

Each case sources the script in `bash --norc --noprofile`, sets COMP_WORDS
and COMP_CWORD as bash does, calls _capsemctl and reads COMPREPLY.  Session
ids come from a fake `capsemctl list -q` first on PATH; image names from a
temporary CAPSEM_HOME.
"""
import os
import subprocess
import sys
import tempfile

DRIVER = r'''
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_capsemctl capsemctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


def complete(script, words, env, cwd):
    p = subprocess.run(['bash', '--norc', '--noprofile', '-c', DRIVER, 'drv',
                        script, 'capsemctl'] + words, capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=30)
    return sorted(x for x in p.stdout.split('\n') if x), p.stderr


def main():
    script = os.path.abspath(sys.argv[1])
    results = []
    with tempfile.TemporaryDirectory(prefix='capsem-bashcomp-') as tmp:
        bindir = os.path.join(tmp, 'bin')
        os.makedirs(bindir)
        fake = os.path.join(bindir, 'capsemctl')
        with open(fake, 'w') as f:
            f.write('#!/bin/sh\n[ "$1 $2" = "list -q" ] && '
                    'printf "d06f8dc9\\nmy-task\\n"\nexit 0\n')
        os.chmod(fake, 0o755)
        home = os.path.join(tmp, 'home')
        for img in ('default', 'mine', 'mine.old', 'x.tmp.12'):
            os.makedirs(os.path.join(home, 'images', img))
        work = os.path.join(tmp, 'work')
        os.makedirs(work)
        for name in ('user.toml', 'corp.toml'):
            open(os.path.join(work, name), 'w').close()
        env = dict(os.environ, PATH=bindir + ':' + os.environ['PATH'],
                   CAPSEM_HOME=home)
        cases = [
            (['st'], ['start', 'status', 'stop']),
            (['ver'], ['version']),
            (['start', '--im'], ['--image']),
            (['start', '--no'], ['--no-workspace']),
            (['start', '--f'], ['--force']),
            (['start', '-w', '../h'], ['../home']),
            (['start', '--workspace=../h'], ['../home']),
            (['start', 'cl'], ['claude']),
            (['start', 'sh'], ['shell']),
            (['attach', ''], ['d06f8dc9', 'my-task']),
            (['stop', 'my'], ['my-task']),
            (['logs', 'd0'], ['d06f8dc9']),
            (['image', 'build', ''], ['default', 'mine']),
            (['image', ''], ['build', 'list']),
            (['ca', ''], ['export', 'init', 'mint', 'show']),
            (['policy', 'lint', ''], ['corp.toml', 'user.toml']),
            (['list', '--p'], ['--prune']),
            (['help', 'do'], ['doctor']),
        ]
        for words, want in cases:
            got, err = complete(script, words, env, work)
            results.append(('capsemctl %s<TAB> -> %s' % (' '.join(words),
                                                         ' '.join(want)),
                            got == want, 'got %s %s' % (got, err.strip())))
        got, err = complete(script, ['doctor', ''], env, work)
        results.append(('capsemctl doctor <TAB> offers the agents and --json',
                        {'claude', 'gemini', 'codex', '--json'} <= set(got),
                        'got %s %s' % (got, err.strip())))
    nfail = 0
    for name, ok, why in results:
        print(('ok   %s' % name) if ok else ('FAIL %s: %s' % (name, why)))
        nfail += not ok
    print('%d passed, %d failed' % (len(results) - nfail, nfail))
    sys.exit(1 if nfail else 0)


if __name__ == '__main__':
    main()
