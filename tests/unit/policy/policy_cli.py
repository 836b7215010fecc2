#!/usr/bin/env python3
"""`capsemctl policy` (cmd_policy.c) against real files in a temp home.

usage: policy_cli.py POLICY_CLI DATA_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

cli, data = sys.argv[1], sys.argv[2]
failures = 0


def run(env, *args):
    r = subprocess.run([cli, 'policy', *args], capture_output=True,
                       text=True, env=env)
    return r.returncode, r.stdout, r.stderr


def expect(what, got, code, out_has=(), err_has=()):
    global failures
    rc, out, err = got
    ok = rc == code and all(s in out for s in out_has) and \
        all(s in err for s in err_has)
    print(('ok   ' if ok else 'FAIL ') + what)
    if not ok:
        print(f'  exit {rc} (want {code})\n  stdout: {out!r}\n  stderr: {err!r}')
        failures += 1


with tempfile.TemporaryDirectory() as home:
    corp = os.path.join(home, 'corp.toml')
    env = dict(os.environ, CAPSEM_HOME=home,
               CAPSEM_CORP_CONFIG=os.path.join(home, 'no-corp.toml'))
    # no files at all: built-in default for the agent
    expect('no user file: agent host allowed',
           run(env, 'check', 'https://api.anthropic.com/v1/messages'), 0,
           ('allow\n', 'source: (built-in):0'))
    expect('no user file: other hosts denied',
           run(env, 'check', 'https://github.com/'), 1, ('deny\n',))
    expect('no user file, -a gemini',
           run(env, 'check', '-a', 'gemini',
               'https://generativelanguage.googleapis.com/'), 0, ('allow',))
    shutil.copy(os.path.join(data, 'user-basic.toml'),
                os.path.join(home, 'user.toml'))
    user = os.path.join(home, 'user.toml')
    expect('allow with rule and file:line',
           run(env, 'check', 'https://api.github.com/repos/o/r'), 0,
           ('allow\nrule: allow "GET /repos/**" in [http."api.github.com"]\n'
            f'source: {user}:15\n',))
    expect('-X upper-cases the method',
           run(env, 'check', '-X', 'delete', 'https://api.github.com/repos/o'),
           1, ('deny\n', f'source: {user}:13'))
    expect('block', run(env, 'check', 'https://gist.github.com/'), 1,
           (f'{user}:10',))
    expect('bad URL is a usage error', run(env, 'check', 'ftp://x/'), 2,
           (), ('http:// or https://',))
    shutil.copy(os.path.join(data, 'corp.toml'), corp)
    env['CAPSEM_CORP_CONFIG'] = corp
    expect('corp ceiling', run(env, 'check', 'https://api.example.com/'), 1,
           (f'source: {corp}:3',))
    expect('show lists entries with origins', run(env, 'show'), 0,
           (f'{corp}:4', f'{user}:15', 'GET /repos/**',
            'path_parameters = true'))
    with open(corp, 'a') as f:
        f.write('[vm]\ncpus = "two"\n')
    expect('broken corp file is a config error',
           run(env, 'check', 'https://github.com/'), 2, (),
           (f'{corp}:12: [vm] cpus must be an integer, not a string',))
    expect('lint ok', run(env, 'lint', user), 0, (f'{user}: ok',))
    expect('lint error', run(env, 'lint', corp), 2, (),
           (f'{corp}:12: [vm] cpus must be an integer',))
    expect('lint missing file', run(env, 'lint', os.path.join(home, 'x')), 2,
           (), ('no such file',))
    expect('usage', run(env, 'frobnicate'), 2, (), ('usage:',))

sys.exit(1 if failures else 0)
