#!/usr/bin/env python3
"""netproxy end to end: real curl and dig through `capsemctl proxy`, real
TLS upstreams (upstream.py) on 127.0.0.x with a test CA.

usage: test_proxy.py CAPSEMCTL SMUGGLING_DIR CERTD POLICYD NETPROXY
Exits 77 (skipped) when this capsemctl has no `proxy` command yet.
"""
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = 'api.example.test'
failures = []


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=60, **kw)


def check(name, cond, detail=''):
    print('%s %s%s' % ('ok  ' if cond else 'FAIL', name,
                        (': ' + detail) if (detail and not cond) else ''))
    if not cond:
        failures.append(name)


def free_port(addr='127.0.0.1'):
    s = socket.socket()
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(addr, port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit('%s exited early (status %s)' % (what, proc.returncode))
        try:
            socket.create_connection((addr, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit('%s did not listen on %s:%d' % (what, addr, port))


def openssl(*args):
    r = run(['openssl'] + list(args))
    if r.returncode != 0:
        sys.exit('openssl %s: %s' % (args[0], r.stderr.decode()))


def make_pki(d):
    """A test CA, a leaf for HOST from it, and a leaf from a stranger CA."""
    for ca in ('testca', 'otherca'):
        openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
                'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
                '-subj', '/CN=%s' % ca, '-keyout', '%s/%s.key' % (d, ca),
                '-out', '%s/%s.pem' % (d, ca))
    for leaf, ca in (('good', 'testca'), ('bad', 'otherca')):
        openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                '-nodes', '-subj', '/CN=%s' % HOST, '-keyout',
                '%s/%s.key' % (d, leaf), '-out', '%s/%s.csr' % (d, leaf))
        with open('%s/ext.cnf' % d, 'w') as f:
            f.write('subjectAltName=DNS:%s,DNS:bad.example.test,'
                    'DNS:local.example.test\n' % HOST)
        openssl('x509', '-req', '-in', '%s/%s.csr' % (d, leaf), '-CA',
                '%s/%s.pem' % (d, ca), '-CAkey', '%s/%s.key' % (d, ca),
                '-CAcreateserial', '-days', '2', '-extfile', '%s/ext.cnf' % d,
                '-out', '%s/%s.pem' % (d, leaf))


def curl(proxy_port, path, *extra, host=HOST):
    cmd = ['curl', '-sS', '--max-time', '20', '--cacert', CA,
           '--connect-to', '%s:443:127.0.0.1:%d' % (host, proxy_port),
           '-o', '-', '-w', '\n%{http_code}'] + list(extra) + \
          ['https://%s%s' % (host, path)]
    r = run(cmd)
    out = r.stdout.rsplit(b'\n', 1)
    body, code = (out[0], out[1].decode()) if len(out) == 2 else (b'', '000')
    return code, body, r.stderr.decode()


def decode_case(text):
    out = bytearray()
    i = 0
    text = text.replace('\n', '')
    while i < len(text):
        c = text[i]
        if c == '\\':
            e = text[i + 1]
            if e == 'x':
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += {'r': b'\r', 'n': b'\n', 't': b'\t', '0': b'\0',
                    '\\': b'\\'}[e]
            i += 2
            continue
        out += c.encode('latin-1')
        i += 1
    return bytes(out)


def raw_tls_request(proxy_port, payload):
    ctx = ssl.create_default_context(cafile=CA)
    with socket.create_connection(('127.0.0.1', proxy_port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=HOST) as t:
            t.sendall(payload)
            data = b''
            try:
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except (ssl.SSLError, OSError):
                pass
            return data


def start_proxy(home, env, port, dns_port=None):
    cmd = [CAPSEMCTL, 'proxy', '-l', '127.0.0.1:%d' % port]
    if dns_port:
        cmd += ['--dns', '127.0.0.1:%d' % dns_port]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(home, 'proxy.log'), 'ab'))
    wait_port('127.0.0.1', port, p, 'capsemctl proxy')
    return p


def write_config(home, d, up_port, bad_port, private):
    with open(os.path.join(home, 'user.toml'), 'w') as f:
        f.write('''[network]
default = "deny"
allow = ["%(h)s", "bad.example.test", "local.example.test"]
block = ["denied.example.test"]
private_addresses = %(priv)s

[http."%(h)s"]
deny = ["DELETE *"]
allow = ["*"]
default = "deny"

[upstream]
resolve = ["%(h)s:443:127.0.0.2:%(up)d", "bad.example.test:443:127.0.0.3:%(bad)d", "local.example.test:443:127.0.0.1:%(up1)d"]
ca_file = "%(d)s/testca.pem"
''' % {'h': HOST, 'up': up_port, 'bad': bad_port, 'up1': up_port,
       'd': d, 'priv': 'true' if private else 'false'})


def main():
    global CAPSEMCTL, CA
    CAPSEMCTL, smuggling = sys.argv[1], sys.argv[2]
    usage = run([CAPSEMCTL, 'proxy', '-h'])
    if b'-l' not in usage.stdout + usage.stderr:
        print('capsemctl has no proxy command yet: skipped')
        sys.exit(77)

    procs = []
    with tempfile.TemporaryDirectory() as d:
        home = os.path.join(d, 'home')
        os.mkdir(home)
        libexec = os.path.join(d, 'libexec')
        os.mkdir(libexec)
        for path in sys.argv[3:6]:
            os.symlink(os.path.abspath(path),
                       os.path.join(libexec, os.path.basename(path)))
        env = dict(os.environ, CAPSEM_HOME=home, CAPSEM_LIBEXEC_DIR=libexec,
                   CAPSEM_CORP_CONFIG=os.path.join(d, 'no-corp.toml'))
        make_pki(d)
        up_port, bad_port = free_port('127.0.0.2'), free_port('127.0.0.3')
        for addr, port, leaf in (('127.0.0.2', up_port, 'good'),
                                 ('127.0.0.3', bad_port, 'bad'),
                                 ('127.0.0.1', up_port, 'good')):
            p = subprocess.Popen([sys.executable, os.path.join(HERE, 'upstream.py'),
                                  addr, str(port), '%s/%s.pem' % (d, leaf),
                                  '%s/%s.key' % (d, leaf)],
                                 stdout=subprocess.PIPE)
            procs.append(p)
            p.stdout.readline()
        r = run([CAPSEMCTL, 'ca', 'init'], env=env)
        check('ca init', r.returncode == 0, r.stderr.decode())
        CA = os.path.join(home, 'ca', 'ca.pem')
        write_config(home, d, up_port, bad_port, private=True)
        pport, dport = free_port(), free_port()
        proxy = start_proxy(home, env, pport, dport)
        procs.append(proxy)
        try:
            code, body, err = curl(pport, '/hello')
            check('GET allowed', code == '200' and body == b'ok GET /hello',
                  '%s %r %s' % (code, body, err))
            for size in (1, 65536, 5 * 1024 * 1024):
                data = os.urandom(size)
                path = os.path.join(d, 'body')
                with open(path, 'wb') as f:
                    f.write(data)
                code, body, err = curl(pport, '/sha256', '--data-binary',
                                       '@' + path)
                check('POST %d bytes' % size, code == '200' and
                      body.decode() == hashlib.sha256(data).hexdigest(),
                      '%s %r %s' % (code, body[:80], err))
            code, body, err = curl(pport, '/sha256', '--data-binary',
                                   '@' + path, '-H',
                                   'Transfer-Encoding: chunked')
            check('POST chunked upload', code == '200' and
                  body.decode() == hashlib.sha256(data).hexdigest(), err)
            code, body, err = curl(pport, '/bytes/3000000')
            check('GET 3 MB', code == '200' and body ==
                  bytes(i % 251 for i in range(3000000)), err)
            code, body, err = curl(pport, '/chunked')
            check('chunked response', code == '200' and
                  body == b'one two three', '%s %r' % (code, body))
            # SSE: events arrive one by one, before the stream ends
            p = subprocess.Popen(['curl', '-sSN', '--cacert', CA,
                                  '--connect-to', '%s:443:127.0.0.1:%d' % (HOST, pport),
                                  'https://%s/sse' % HOST], stdout=subprocess.PIPE)
            first = p.stdout.readline()
            rest = p.stdout.read()
            p.wait()
            check('SSE delivered incrementally', first == b'data: event 0\n'
                  and b'event 2' in rest, repr(first))
            r = run(['curl', '-sSv', '--cacert', CA, '--connect-to',
                     '%s:443:127.0.0.1:%d' % (HOST, pport),
                     'https://%s/a' % HOST, 'https://%s/b' % HOST])
            check('keep-alive reuse', r.stdout == b'ok GET /aok GET /b' and
                  b'Re-using existing connection' in r.stderr,
                  r.stdout.decode())
            code, body, err = curl(pport, '/x', host='denied.example.test')
            check('denied host -> 403 naming the rule', code == '403' and
                  b'denied.example.test' in body and b'user.toml' in body,
                  '%s %r' % (code, body))
            code, body, err = curl(pport, '/thing', '-X', 'DELETE')
            check('denied method -> 403', code == '403' and b'DELETE' in body
                  and b'rule' in body, '%s %r' % (code, body))
            code, body, err = curl(pport, '/x', '-H', 'Host: other.test')
            check('SNI/Host mismatch -> 421', code == '421', code)
            code, body, err = curl(pport, '/x', host='bad.example.test')
            check('upstream bad certificate -> 502', code == '502' and
                  b'certificate' in body, '%s %r' % (code, body))
            # the smuggling corpus over the wire
            n = 0
            for name in sorted(os.listdir(smuggling)):
                if not name.endswith('.txt'):
                    continue
                with open(os.path.join(smuggling, name)) as f:
                    first, text = f.read().split('\n', 1)
                want = int(first.split()[1])
                if want == 200:
                    continue
                resp = raw_tls_request(pport, decode_case(text))
                m = re.match(rb'HTTP/1\.1 (\d{3}) ', resp)
                got = int(m.group(1)) if m else 0
                if name.find('chunk-') >= 0 and got == 0:
                    got = 400 if not resp else got
                check('smuggling %s -> %d' % (name, want), got == want or
                      (want == 400 and 'chunk' in name and got in (0, 400)),
                      repr(resp[:60]))
                n += 1
            check('smuggling corpus size', n >= 30, str(n))
            code, body, err = curl(pport, '/still')
            check('proxy still serving after the corpus', code == '200', err)
            # DNS
            def dig(name, qtype='A'):
                r = run(['dig', '+tcp', '+tries=1', '+time=5', '-p',
                         str(dport), '@127.0.0.1', name, qtype])
                return r.stdout.decode()
            a1, a2 = dig(HOST), dig(HOST)
            m1 = re.search(r'IN\s+A\s+(198\.1[89]\.\d+\.\d+)', a1)
            m2 = re.search(r'IN\s+A\s+(198\.1[89]\.\d+\.\d+)', a2)
            check('dig allowed -> stable 198.18.x.y', m1 and m2 and
                  m1.group(1) == m2.group(1), a1)
            check('dig blocked -> NXDOMAIN', 'NXDOMAIN' in
                  dig('denied.example.test'))
            check('dig TXT -> REFUSED', 'REFUSED' in dig(HOST, 'TXT'))
            check('dig AAAA -> empty NOERROR', 'NOERROR' in dig(HOST, 'AAAA'))
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(timeout=10)

        # without private_addresses, a name pinned to 127.0.0.1 is refused
        write_config(home, d, up_port, bad_port, private=False)
        pport = free_port()
        proxy = start_proxy(home, env, pport)
        try:
            code, body, err = curl(pport, '/x', host='local.example.test')
            check('upstream 127.0.0.1 without private_addresses -> 403',
                  code == '403' and b'private' in body, '%s %r' % (code, body))
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(timeout=10)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if failures:
        sys.exit('%d failed: %s' % (len(failures), ', '.join(failures)))


main()
