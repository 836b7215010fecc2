#!/usr/bin/env python3
"""`capsemctl logs`: a real `capsemctl proxy` session, an allowed and a
denied request with curl against a real TLS upstream (upstream.py), then
the session's events read back from its database (db/session.db,
written by capsem-policyd) readable, as JSON Lines, followed with -f,
counted by `list`, and made safe when the database holds hostile bytes.

usage: test_logs.py CAPSEMCTL CERTD POLICYD NETPROXY UPSTREAM_PY

Every wait is bounded (subprocess timeouts, curl --max-time, select).
Exits 77 (skipped) when this capsemctl has no `logs` command.
"""
import json
import os
import re
import sqlite3
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


EVENT_KEYS = ('id', 'event', 'host', 'port', 'method', 'path', 'verdict',
              'rule', 'source', 'status', 'bytes_in', 'bytes_out',
              'duration_us', 'reason', 'mode')


def db_rows(path):
    """The events table, read-only, as dicts in id order."""
    db = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute('SELECT * FROM events ORDER BY id')]
    db.close()
    return rows


def as_json(row, sid):
    """What `logs --json` must print for a row: its non-NULL values."""
    want = {'time': row['time'], 'session': sid}
    for k in EVENT_KEYS:
        v = row['kind' if k == 'event' else k]
        if v is not None:
            want[k] = v
    return want


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

    db_path = os.path.join(home, 'sessions', sid, 'db', 'session.db')
    rows = db_rows(db_path)
    allowed = [r for r in rows if r['host'] == HOST and
               r['verdict'] == 'allow' and r['path'] == '/hello' and
               r['kind'] == 'request']
    denied = [r for r in rows if r['host'] == DENIED and
              r['verdict'] == 'deny']
    check('the database has the allowed request, with its status',
          allowed and allowed[0]['status'] == 200, rows)
    check('the database has the denied host with a rule',
          denied and denied[0]['rule'], rows)
    if not (allowed and denied):
        return

    # Readable: one line per event, the denied one with its rule.
    r = ctl('logs', sid)
    out = r.stdout.decode()
    lines = out.splitlines()
    check('logs <id> (ended session): exit 0', r.returncode == 0,
          r.stderr.decode())
    check('one readable line per event', len(lines) == len(rows),
          '%d lines for %d events:\n%s' % (len(lines), len(rows), out))
    ok_lines = [l for l in lines if ' allow ' in l and HOST in l and
                'GET' in l and '/hello' in l and 'status 200' in l and
                'B up' in l and 'B down' in l]
    check('the allowed request is shown (verdict, method, host, path, '
          'status, bytes)', ok_lines, out)
    rule = denied[0]['rule']
    deny_lines = [l for l in lines if ' deny ' in l and DENIED in l and
                  ('rule %s (' % rule) in l and 'user.toml:' in l]
    check('the denied request is shown with its rule and file:line',
          deny_lines, '%r not in\n%s' % (rule, out))
    check('lines start with the event time, in the order of the events',
          all(l.startswith(e['time']) for l, e in zip(lines, rows)), out)
    check('logs -f printed the same lines (nothing committed after the '
          'session ended was missed)', fout == r.stdout,
          '%r\n%r' % (fout, r.stdout))

    # --json: one object per event, the database's values.
    r = ctl('logs', '--json', sid)
    check('logs --json: exit 0', r.returncode == 0, r.stderr.decode())
    try:
        parsed = [json.loads(l) for l in r.stdout.decode().splitlines()]
    except ValueError as e:
        parsed = []
        check('logs --json lines parse as JSON', False, e)
    check('logs --json: one object per event, each the row\'s values',
          parsed == [as_json(e, sid) for e in rows],
          '%r\n%r' % (parsed[:3], [as_json(e, sid) for e in rows][:3]))
    check('logs --json is terminal-safe', terminal_safe(r.stdout))
    r = ctl('list', '--json')
    try:
        listed = [x for x in json.loads(r.stdout)
                  if x.get('id') == sid]
    except (ValueError, KeyError, TypeError):
        listed = []
    outcomes = [e for e in rows if e['kind'] != 'workspace']
    check('list counts the requests and refusals in the database',
          listed and listed[0].get('requests') == len(outcomes) and
          listed[0].get('denied') ==
          len([e for e in outcomes if e['verdict'] == 'deny']),
          '%r, %d outcomes' % (listed, len(outcomes)))

    # Hostile values written into the database by hand: control bytes,
    # bytes >= 0x80, a 100 kB path, a port that is not a number.  Nothing
    # reaches the terminal unescaped; --json keeps every byte.
    hostile = {'time': b'\x1b]0;owned\x07', 'kind': b'request',
               'host': b'evil\x1b[31m\x9b.test', 'port': b'x443',
               'method': b'GET', 'path': b'/\xff\x07\r', 'verdict': b'deny',
               'rule': b'x"y\\', 'source': b'user.toml:1', 'status': 403,
               'bytes_in': 1, 'bytes_out': 2, 'duration_us': 3}
    long_path = b'/' + b'A' * 100000
    db = sqlite3.connect(db_path)
    with db:
        for ev in (hostile, {'time': b'2030-01-01T00:00:00.000Z',
                             'kind': b'request', 'host': b'long.test',
                             'port': 443, 'path': long_path,
                             'verdict': b'allow'},
                   {'time': b'2030-01-01T00:00:01.000Z', 'kind': b'conn',
                    'host': b'after.test', 'port': 443,
                    'verdict': b'allow', 'rule': b'r'}):
            cols = ', '.join(ev)
            vals = ', '.join('CAST(? AS TEXT)' if isinstance(v, bytes)
                             else '?' for v in ev.values())
            db.execute('INSERT INTO events (%s) VALUES (%s)' % (cols, vals),
                       list(ev.values()))
    db.close()
    r = ctl('logs', sid)
    out = r.stdout
    check('hostile values: exit 0', r.returncode == 0, r.stderr.decode())
    check('hostile values: output is terminal-safe (no control bytes, '
          'no bytes >= 0x80)', terminal_safe(out), repr(out[-600:]))
    lines = out.decode('ascii', 'replace').splitlines()
    check('hostile values: every event still shown',
          len(lines) == len(rows) + 3, '%d lines' % len(lines))
    if len(lines) == len(rows) + 3:
        bad_l, long_l, tail_l = lines[-3:]
        check('control bytes and bytes >= 0x80 are shown as \\xHH',
              bad_l.startswith('\\x1b]0;owned\\x07 ') and
              'evil\\x1b[31m\\x9b.test:x443/\\xff\\x07\\r' in bad_l and
              'rule x"y\\\\' in bad_l, bad_l)
        check('a long value is cut and marked',
              long_l.endswith('AAA...') and len(long_l) < 8000,
              '%d bytes' % len(long_l))
        check('the event after the long one is intact',
              tail_l.startswith('2030-01-01T00:00:01.000Z allow conn') and
              'after.test:443' in tail_l, tail_l)
    r = ctl('logs', '--json', sid)
    jl = r.stdout.splitlines()
    check('--json: exit 0, every event, terminal-safe',
          r.returncode == 0 and len(jl) == len(rows) + 3 and
          terminal_safe(r.stdout), r.stderr.decode())
    try:
        objs = [json.loads(l) for l in jl]
    except ValueError as e:
        objs = []
        check('--json lines still all parse', False, e)
    if len(objs) == len(rows) + 3:
        h, lg = objs[-3], objs[-2]
        raw = lambda v: v.encode('latin-1')  # one \u00XX per byte
        check('--json keeps the hostile bytes exactly (one escape per byte)',
              raw(h['host']) == hostile['host'] and
              raw(h['path']) == hostile['path'] and
              raw(h['time']) == hostile['time'] and h['port'] == 'x443' and
              h['status'] == 403, repr(h))
        check('--json does not cut a long value',
              raw(lg['path']) == long_path, len(lg['path']))

    # A database of schema 1 (before events.mode) is still read.
    old_sid = 'oldold00'
    os.makedirs(os.path.join(home, 'sessions', old_sid, 'db'))
    db = sqlite3.connect(os.path.join(home, 'sessions', old_sid, 'db',
                                      'session.db'))
    with db:
        db.execute('CREATE TABLE events (id INTEGER PRIMARY KEY, time TEXT,'
                   ' kind TEXT, host TEXT, port INTEGER, method TEXT,'
                   ' path TEXT, verdict TEXT, rule TEXT, source TEXT,'
                   ' status INTEGER, bytes_in INTEGER, bytes_out INTEGER,'
                   ' duration_us INTEGER, reason TEXT)')
        db.execute("INSERT INTO events (time, kind, host, port, verdict)"
                   " VALUES ('2026-01-01T00:00:00.000Z', 'conn', 'v1.test',"
                   " 443, 'allow')")
    db.close()
    r = ctl('logs', old_sid)
    check('a schema 1 database is read',
          r.returncode == 0 and r.stdout.decode().startswith(
              '2026-01-01T00:00:00.000Z allow conn    v1.test:443'),
          r.stdout.decode() + r.stderr.decode())

    # A file that is not a database: one line, exit 1.
    bad_sid = 'badbad00'
    os.makedirs(os.path.join(home, 'sessions', bad_sid, 'db'))
    with open(os.path.join(home, 'sessions', bad_sid, 'db', 'session.db'),
              'wb') as f:
        f.write(b'\x1b[2J not a database' * 100)
    r = ctl('logs', bad_sid)
    err = r.stderr.decode()
    check('a corrupt database: exit 1, one line naming it',
          r.returncode == 1 and err.count('\n') == 1 and
          err.startswith('capsemctl: %s: ' % os.path.join(
              home, 'sessions', bad_sid, 'db', 'session.db')) and
          'not a database' in err and terminal_safe(r.stderr), err)

    # A database policyd made but had not given its tables yet (a session
    # that ended while starting): empty, or a table of another name only.
    # Nothing to show, and that is not an error (vm-e2e's `start -d` case).
    for i, make in enumerate((
            lambda p: open(p, 'wb').close(),
            lambda p: sqlite3.connect(p).execute(
                'CREATE TABLE meta (key TEXT, value TEXT)').connection.commit())):
        new_sid = 'newnew0%d' % i
        os.makedirs(os.path.join(home, 'sessions', new_sid, 'db'))
        make(os.path.join(home, 'sessions', new_sid, 'db', 'session.db'))
        r = ctl('logs', new_sid)
        check('a database without tables yet (%d): exit 0, no logs yet' % i,
              r.returncode == 0 and r.stdout == b'' and r.stderr.decode() ==
              'capsemctl: logs: session %s has no logs yet\n' % new_sid,
              r.stdout + r.stderr)

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
