#!/usr/bin/env python3
"""`capsemctl logs`: a real `capsemctl proxy` session, an allowed and a
denied request with curl against a real TLS upstream (upstream.py), then
the session's audit lines read back readable, as JSON, followed with -f,
and made safe when the file holds hostile bytes.

usage: test_logs.py CAPSEMCTL CERTD POLICYD NETPROXY UPSTREAM_PY

Every wait is bounded (subprocess timeouts, curl --max-time, select).
Exits 77 (skipped) when this capsemctl has no `logs` command.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from proctest import (check, free_port, openssl, readline_timeout,  # noqa: E402
                      reap_all, run, spawn, wait_port, finish)

HOST = 'api.example.test'
DENIED = 'denied.example.test'


def make_upstream_cert(d):
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
            '-subj', '/CN=testca', '-keyout', d + '/testca.key',
            '-out', d + '/testca.pem')
    with open(d + '/ext.cnf', 'w') as f:
        f.write('subjectAltName=DNS:%s\n' % HOST)
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
            '-nodes', '-subj', '/CN=%s' % HOST, '-keyout', d + '/up.key',
            '-out', d + '/up.csr')
    openssl('x509', '-req', '-in', d + '/up.csr', '-CA', d + '/testca.pem',
            '-CAkey', d + '/testca.key', '-CAcreateserial', '-days', '2',
            '-extfile', d + '/ext.cnf', '-out', d + '/up.pem')


def curl(ca, proxy_port, host, path):
    r = run(['curl', '-sS', '--max-time', '30', '--cacert', ca,
             '--connect-to', '%s:443:127.0.0.1:%d' % (host, proxy_port),
             '-o', '-', '-w', '\n%{http_code}', 'https://%s%s' % (host, path)],
            timeout=60)
    out = r.stdout.rsplit(b'\n', 1)
    return (out[1].decode() if len(out) == 2 else '000'), out[0]


def terminal_safe(data):
    """No control byte but '\\n', no byte >= 0x80."""
    return all(b == 0x0a or 0x20 <= b < 0x7f for b in data)


def main():
    capsemctl, upstream_py = sys.argv[1], sys.argv[5]
    usage = run([capsemctl, 'logs', '--help'])
    if b'usage: capsemctl logs' not in usage.stdout:
        print('capsemctl has no logs command yet: skipped')
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix='capsem-logs-') as d:
        try:
            checks(d, capsemctl, upstream_py)
        finally:
            reap_all()
    finish()


def checks(d, capsemctl, upstream_py):
    home, libexec, rundir = (os.path.join(d, x) for x in
                             ('home', 'libexec', 'run'))
    for x in (home, libexec):
        os.mkdir(x)
    os.mkdir(rundir, 0o700)
    for path in sys.argv[2:5]:
        os.symlink(os.path.abspath(path),
                   os.path.join(libexec, os.path.basename(path)))
    env = dict(os.environ, CAPSEM_HOME=home, CAPSEM_LIBEXEC_DIR=libexec,
               XDG_RUNTIME_DIR=rundir,
               CAPSEM_CORP_CONFIG=os.path.join(d, 'no-corp.toml'))

    def ctl(*args, timeout=30):
        return run([capsemctl] + list(args), env=env, timeout=timeout)

    make_upstream_cert(d)
    up_port = free_port('127.0.0.2')
    p = spawn([sys.executable, upstream_py, '127.0.0.2', str(up_port),
               d + '/up.pem', d + '/up.key'], stdout=subprocess.PIPE)
    if readline_timeout(p.stdout, 20) != b'ready\n':
        sys.exit('upstream.py did not start')
    with open(os.path.join(home, 'user.toml'), 'w') as f:
        f.write('[network]\ndefault = "deny"\nallow = ["%s"]\n'
                'block = ["%s"]\nprivate_addresses = true\n\n[upstream]\nresolve = ["%s:443:127.0.0.2:%d"]\n'
                'ca_file = "%s/testca.pem"\n' % (HOST, DENIED, HOST, up_port, d))
    r = ctl('ca', 'init')
    if r.returncode != 0:
        sys.exit('capsemctl ca init: %s' % r.stderr.decode())
    ca = os.path.join(home, 'ca', 'ca.pem')

    # The session, and a follower started while it runs.
    pport = free_port()
    proxy = spawn([capsemctl, 'proxy', '-l', '127.0.0.1:%d' % pport], env=env,
                  stdout=subprocess.PIPE,
                  stderr=open(os.path.join(d, 'proxy.log'), 'wb'))
    sid = readline_timeout(proxy.stdout, 30).decode().strip()
    if not re.fullmatch(r'[0-9a-f]{8}', sid):
        sys.exit('capsemctl proxy did not announce a session (%r)' % sid)
    wait_port('127.0.0.1', pport, proxy, 'capsemctl proxy')
    follower = spawn([capsemctl, 'logs', '-f', sid], env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    code, body = curl(ca, pport, HOST, '/hello')
    check('allowed request answered', code == '200' and
          body == b'ok GET /hello', '%s %r' % (code, body))
    code, body = curl(ca, pport, DENIED, '/secret')
    check('denied request refused', code == '403', '%s %r' % (code, body))
    r = ctl('logs', sid)
    check('logs of a running session: exit 0', r.returncode == 0,
          r.stderr.decode())

    r = ctl('stop', sid)
    check('stop', r.returncode == 0, r.stderr.decode())
    try:
        proxy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proxy.kill()
    try:
        fout, ferr = follower.communicate(timeout=30)
        followed = True
    except subprocess.TimeoutExpired:
        follower.kill()
        fout, ferr = follower.communicate()
        followed = False
    check('logs -f ends when the session does', followed and
          follower.returncode == 0, ferr.decode())

    audit_path = os.path.join(home, 'sessions', sid, 'audit.jsonl')
    with open(audit_path, 'rb') as f:
        audit_raw = f.read()
    audit = [json.loads(l) for l in audit_raw.decode().splitlines()]
    allowed = [a for a in audit if a.get('host') == HOST and
               a.get('verdict') == 'allow' and a.get('path') == '/hello']
    denied = [a for a in audit if a.get('host') == DENIED and
              a.get('verdict') == 'deny']
    check('the audit file has the allowed request', allowed, audit)
    check('the audit file has the denied host with a rule',
          denied and denied[0].get('rule'), audit)
    if not (allowed and denied):
        return

    # Readable: one line per event, the denied one with its rule.
    r = ctl('logs', sid)
    out = r.stdout.decode()
    lines = out.splitlines()
    check('logs <id> (ended session): exit 0', r.returncode == 0,
          r.stderr.decode())
    check('one readable line per audit line', len(lines) == len(audit),
          '%d lines for %d events:\n%s' % (len(lines), len(audit), out))
    ok_lines = [l for l in lines if ' allow ' in l and HOST in l and
                'GET' in l and '/hello' in l and 'status 200' in l]
    check('the allowed request is shown (verdict, method, host, path, status)',
          ok_lines, out)
    rule = denied[0]['rule']
    deny_lines = [l for l in lines if ' deny ' in l and DENIED in l and
                  ('rule %s (' % rule) in l and 'user.toml:' in l]
    check('the denied request is shown with its rule and file:line',
          deny_lines, '%r not in\n%s' % (rule, out))
    check('lines start with the event time',
          all(l.startswith(a['time']) for l, a in zip(lines, audit)), out)
    check('logs -f printed the same lines', fout == r.stdout,
          '%r\n%r' % (fout, r.stdout))

    # --json: the audit lines as they are, and only those.
    r = ctl('logs', '--json', sid)
    check('logs --json: exit 0', r.returncode == 0, r.stderr.decode())
    try:
        parsed = [json.loads(l) for l in r.stdout.decode().splitlines()]
    except ValueError as e:
        parsed = None
        check('logs --json lines parse as JSON', False, e)
    check('logs --json equals audit.jsonl byte for byte',
          r.stdout == audit_raw, '%r\n%r' % (r.stdout, audit_raw))
    check('logs --json parses to the audit events', parsed == audit)

    # Hostile lines appended by hand: raw ESC/BEL/CSI bytes (not JSON), a
    # valid JSON line whose strings decode to control bytes, and a 100 kB
    # line.  Nothing reaches the terminal unescaped; nothing aborts.
    hostile_raw = (b'{"time":"\x1b]0;owned\x07","host":"\x1b[2J\x9bx",'
                   b'"verdict":"deny"}')
    hostile_json = (b'{"time":"2030-01-01T00:00:00.000Z","event":"request",'
                    b'"host":"evil\\u001b[31m.test","port":443,'
                    b'"path":"/\\u009b\\u0007\\r","verdict":"deny",'
                    b'"rule":"x\\"y"}')
    long_line = b'{"pad":"' + b'A' * 100000 + b'"}'
    tail = (b'{"time":"2030-01-01T00:00:01.000Z","event":"conn",'
            b'"host":"after.test","port":443,"verdict":"allow","rule":"r"}')
    with open(audit_path, 'ab') as f:
        f.write(b'\n'.join([hostile_raw, hostile_json, long_line, tail]) + b'\n')
    r = ctl('logs', sid)
    out = r.stdout
    check('hostile lines: exit 0', r.returncode == 0, r.stderr.decode())
    check('hostile lines: output is terminal-safe (no control bytes, '
          'no bytes >= 0x80)', terminal_safe(out), repr(out[-600:]))
    lines = out.decode('ascii', 'replace').splitlines()
    check('hostile lines: every line still shown',
          len(lines) == len(audit) + 4, '%d lines' % len(lines))
    if len(lines) == len(audit) + 4:
        raw_l, json_l, long_l, tail_l = lines[-4:]
        check('a malformed line is printed raw-escaped',
              raw_l == '[malformed] {"time":"\\x1b]0;owned\\x07",'
                       '"host":"\\x1b[2J\\x9bx","verdict":"deny"}', raw_l)
        check('JSON escapes of control bytes are shown escaped',
              'evil\\x1b[31m.test:443/\\x9b\\x07\\r' in json_l and
              'rule x"y' in json_l, json_l)
        check('an over-long line is cut and marked',
              long_l.startswith('[malformed] {"pad":"AAAA') and
              long_l.endswith(' [cut]') and len(long_l) < 70000,
              '%d bytes' % len(long_l))
        check('the line after the long one is intact',
              tail_l.startswith('2030-01-01T00:00:01.000Z allow conn') and
              'after.test:443' in tail_l, tail_l)
    r = ctl('logs', '--json', sid)
    jl = r.stdout.splitlines()
    check('--json leaves out what is not a JSON object',
          r.returncode == 0 and len(jl) == len(audit) + 2 and
          jl[-2] == hostile_json and jl[-1] == tail and
          b'not a JSON object' in r.stderr, r.stderr.decode())
    check('--json output is terminal-safe', terminal_safe(r.stdout))
    try:
        for l in jl:
            json.loads(l)
        check('--json lines still all parse', True)
    except ValueError as e:
        check('--json lines still all parse', False, e)

    # Errors.
    for bad in ('../etc', '.hidden', 'a' * 40, 'x\x1b[2J'):
        r = ctl('logs', bad)
        check('bad id %r: usage error, exit 2' % bad, r.returncode == 2 and
              b'usage: capsemctl logs' in r.stderr and
              terminal_safe(r.stderr), r.stderr)
    r = ctl('logs', 'deadbeef')
    check('unknown session: exit 1 with the directory looked in',
          r.returncode == 1 and r.stderr.decode() ==
          'capsemctl: logs: no session deadbeef under %s/sessions\n' % home,
          r.stderr)
    for args in ([], [sid, 'extra'], ['--bogus', sid]):
        r = ctl('logs', *args)
        check('logs %s: usage, exit 2' % ' '.join(args),
              r.returncode == 2 and b'usage: capsemctl logs' in r.stderr,
              r.stderr)


if __name__ == '__main__':
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main()
