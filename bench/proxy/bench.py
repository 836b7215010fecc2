#!/usr/bin/env python3
"""bench/proxy driver (see run.sh): starts nginx, capsem proxy, squid and
mitmproxy in one temporary directory, runs h2load against each, prints one
table and the ratios.  usage: bench.py BUILD_DIR SECONDS"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HOST = 'bench.example.test'
SMALL, BIG = 100, 1 << 20
procs = []


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, timeout=600, **kw)
    if r.returncode != 0:
        sys.exit('bench/proxy: %s: %s' % (cmd[0], r.stderr.decode()[-500:]))
    return r


def wait_port(port, proc, what, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    print('bench/proxy: %s did not listen on %d' % (what, port))
    return False


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def tree(pid):
    """pid and its descendants."""
    children = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def peak_rss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open('/proc/%d/status' % p) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def make_pki(d):
    sh(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj',
        '/CN=bench CA', '-keyout', d + '/ca.key', '-out', d + '/ca.pem'])
    sh(['openssl', 'req', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=' + HOST,
        '-keyout', d + '/leaf.key', '-out', d + '/leaf.csr'])
    with open(d + '/ext.cnf', 'w') as f:
        f.write('subjectAltName=DNS:%s\n' % HOST)
    sh(['openssl', 'x509', '-req', '-in', d + '/leaf.csr', '-CA',
        d + '/ca.pem', '-CAkey', d + '/ca.key', '-CAcreateserial', '-days',
        '2', '-extfile', d + '/ext.cnf', '-out', d + '/leaf.pem'])


def start_nginx(d, port):
    www = d + '/www'
    os.makedirs(www)
    with open(www + '/small', 'wb') as f:
        f.write(b'x' * SMALL)
    with open(www + '/big', 'wb') as f:
        f.write(os.urandom(BIG))
    with open(d + '/nginx.conf', 'w') as f:
        f.write('''worker_processes 2;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  sendfile on;
  server {
    listen 127.0.0.1:%(port)d ssl;
    ssl_certificate %(d)s/leaf.pem;
    ssl_certificate_key %(d)s/leaf.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    root %(www)s;
    location / { }
  }
}
''' % {'d': d, 'port': port, 'www': www})
    p = spawn(['nginx', '-p', d, '-c', d + '/nginx.conf'],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port, p, 'nginx'):
        sys.exit('bench/proxy: nginx did not start; see %s/nginx-error.log'
                 % d)
    return p


def start_capsem(d, build, port, nginx_port, tag=''):
    home = d + '/capsem-home' + tag
    libexec = d + '/libexec' + tag
    os.makedirs(home)
    os.makedirs(libexec)
    for sub, name in (('certd', 'capsem-certd'), ('policyd', 'capsem-policyd'),
                      ('netproxy', 'capsem-netproxy')):
        os.symlink('%s/%s/%s' % (build, sub, name), '%s/%s' % (libexec, name))
    with open(home + '/user.toml', 'w') as f:
        f.write('''[network]
default = "deny"
allow = ["%s"]
private_addresses = true

[upstream]
resolve = ["%s:443:127.0.0.1:%d"]
ca_file = "%s/ca.pem"
''' % (HOST, HOST, nginx_port, d))
    env = dict(os.environ, CAPSEM_HOME=home, CAPSEM_LIBEXEC_DIR=libexec,
               CAPSEM_CORP_CONFIG=d + '/no-corp.toml')
    sh([build + '/cli/capsemctl', 'ca', 'init'], env=env)
    p = spawn([build + '/cli/capsemctl', 'proxy', '-l',
               '127.0.0.1:%d' % port], env=env, stdout=subprocess.DEVNULL,
              stderr=open(d + '/capsem%s.log' % tag, 'wb'))
    if not wait_port(port, p, 'capsemctl proxy'):
        sys.exit('bench/proxy: capsemctl proxy did not start; see %s/capsem%s.log'
                 % (d, tag))
    return p


def start_squid(d, port, nginx_port):
    if shutil.which('squid') is None:
        return None
    sq = d + '/squid'
    os.makedirs(sq)
    os.chmod(sq, 0o777)
    for f in ('leaf.pem', 'leaf.key', 'ca.pem'):
        shutil.copy(d + '/' + f, sq + '/' + f)
        os.chmod(sq + '/' + f, 0o644)
    with open(sq + '/squid.conf', 'w') as f:
        f.write('''workers 1
http_port 127.0.0.1:%(hport)d
https_port 127.0.0.1:%(port)d accel vhost defaultsite=%(host)s tls-cert=%(sq)s/leaf.pem tls-key=%(sq)s/leaf.key
cache_peer 127.0.0.1 parent %(up)d 0 no-query no-digest originserver tls tls-cafile=%(sq)s/ca.pem tls-domain=%(host)s name=origin
cache_peer_access origin allow all
http_access allow all
cache deny all
cache_mem 16 MB
access_log none
cache_log %(sq)s/cache.log
pid_filename %(sq)s/squid.pid
coredump_dir %(sq)s
max_filedescriptors 16384
shutdown_lifetime 1 seconds
''' % {'hport': free_port(), 'port': port, 'host': HOST, 'sq': sq,
       'up': nginx_port})
    p = spawn(['squid', '-N', '-f', sq + '/squid.conf'],
              stdout=subprocess.DEVNULL, stderr=open(sq + '/stderr', 'wb'))
    if not wait_port(port, p, 'squid'):
        print('bench/proxy: squid did not start (see %s/cache.log): skipped'
              % sq)
        stop(p)
        return None
    return p


def start_mitmproxy(d, port, nginx_port):
    if shutil.which('mitmdump') is None:
        return None
    conf = d + '/mitm'
    os.makedirs(conf)
    p = spawn(['mitmdump', '-q', '--mode',
               'reverse:https://127.0.0.1:%d' % nginx_port,
               '--listen-host', '127.0.0.1', '--listen-port', str(port),
               '--set', 'confdir=' + conf,
               '--set', 'keep_host_header=true',
               '--set', 'connection_strategy=lazy',
               '--set', 'ssl_verify_upstream_trusted_ca=%s/ca.pem' % d],
              stdout=subprocess.DEVNULL, stderr=open(conf + '/stderr', 'wb'))
    if not wait_port(port, p, 'mitmdump', 90):
        print('bench/proxy: mitmdump did not start: skipped')
        stop(p)
        return None
    return p


def h2load(d, port, path, conns, seconds=None, requests=None, close=False):
    """Returns dict(rps, mbps, p50, p99, ok, failed)."""
    log = '%s/h2load-%d.log' % (d, time.monotonic_ns())
    cmd = ['h2load', '--h1', '-c', str(conns), '-m', '1', '-N', '30',
           '-H', ':authority: ' + HOST, '--log-file', log]
    if close:
        cmd += ['-H', 'Connection: close']
    if seconds:
        cmd += ['-D', str(seconds), '--warm-up-time', '1']
    else:
        cmd += ['-n', str(requests)]
    cmd.append('https://%s:%d%s' % (HOST, port, path))
    # /etc/hosts names HOST only inside this mount namespace
    script = 'mount --bind %s/hosts /etc/hosts && exec h2load "$@"' % d
    wrap = ['unshare', '-m', 'sh', '-c', script, 'h2load']
    if os.geteuid() != 0:
        wrap = ['unshare', '--user', '--map-root-user', '-m', 'sh', '-c',
                script, 'h2load']
    try:
        r = subprocess.run(wrap + cmd[1:], capture_output=True,
                           timeout=(seconds or 0) + 300)
    except subprocess.TimeoutExpired:
        return None
    out = r.stdout.decode()
    m = re.search(r'finished in ([\d.]+)(m?s), ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s',
                  out)
    st = re.search(r'requests: \d+ total, \d+ started, (\d+) done, (\d+) '
                   r'succeeded, (\d+) failed', out)
    if m is None or st is None:
        return None
    unit = {'B': 1e-6, 'KB': 1e-3, 'MB': 1, 'GB': 1e3}[m.group(5)]
    lat = []
    try:
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] == '200':
                    lat.append(int(parts[2]))
        os.unlink(log)
    except OSError:
        pass
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] / 1000 if lat else 0
    return {'rps': float(m.group(3)), 'mbps': float(m.group(4)) * unit,
            'p50': pct(0.50), 'p99': pct(0.99), 'ok': int(st.group(2)),
            'failed': int(st.group(3))}


def handshakes(port, n):
    """n full TLS handshakes one after another, each on a new connection
    without session resumption: connect to handshake done.  Same dict as
    h2load(); rps is handshakes per second."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    lat, failed = [], 0
    begin = time.perf_counter()
    for _ in range(n):
        start = time.perf_counter()
        try:
            with socket.create_connection(('127.0.0.1', port),
                                          timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname=HOST):
                    lat.append(time.perf_counter() - start)
        except (OSError, ssl.SSLError):
            failed += 1
    total = time.perf_counter() - begin
    if not lat:
        return None
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000
    return {'rps': len(lat) / total, 'mbps': 0.0, 'p50': pct(0.50),
            'p99': pct(0.99), 'ok': len(lat), 'failed': failed}


def on_term(signo, frame):
    raise SystemExit('bench/proxy: stopped by signal %d' % signo)


def main():
    build, seconds = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    d = tempfile.mkdtemp(prefix='capsem-bench-')
    os.chmod(d, 0o755)
    results, rss = {}, {}
    try:
        with open(d + '/hosts', 'w') as f:
            f.write('127.0.0.1 localhost\n127.0.0.1 %s\n' % HOST)
        make_pki(d)
        os.chmod(d + '/leaf.key', 0o644)
        nginx_port = free_port()
        nginx = start_nginx(d, nginx_port)
        targets = [('direct', nginx_port, nginx)]
        cport = free_port()
        targets.append(('capsem', cport, start_capsem(d, build, cport,
                                                      nginx_port)))
        sport = free_port()
        squid = start_squid(d, sport, nginx_port)
        if squid is not None:
            targets.append(('squid', sport, squid))
        mport = free_port()
        mitm = start_mitmproxy(d, mport, nginx_port)
        if mitm is not None:
            targets.append(('mitmproxy', mport, mitm))

        scenarios = [
            ('keep-alive 100 B, 10 conns', '/small', 10, False),
            ('keep-alive 100 B, 200 conns', '/small', 200, False),
            ('keep-alive 1 MiB, 10 conns', '/big', 10, False),
            ('keep-alive 1 MiB, 200 conns', '/big', 200, False),
            ('new conn/request 100 B, 10 conns', '/small', 10, True),
            ('new conn/request 100 B, 200 conns', '/small', 200, True),
            ('TLS handshake, no resumption, 1 conn', None, 1, True),
        ]
        for name, port, proc in targets:
            for sc, path, conns, close in scenarios:
                if path is None:
                    res = handshakes(port, 300)
                elif close:
                    n = 300 if name == 'mitmproxy' else 2000
                    res = h2load(d, port, path, conns, requests=n, close=True)
                else:
                    res = h2load(d, port, path, conns, seconds=seconds)
                results[(name, sc)] = res
                print('  %-10s %-36s %s' % (name, sc, fmt(res)), flush=True)
            if name != 'direct':
                rss[name] = (peak_rss_kb(tree(proc.pid)), len(tree(proc.pid)))
        print()
        print('%-36s %-10s %10s %9s %9s %9s %7s' % ('scenario', 'target',
              'req/s', 'MB/s', 'p50 ms', 'p99 ms', 'failed'))
        for sc, _, _, _ in scenarios:
            for name, _, _ in targets:
                r = results.get((name, sc))
                if r is None:
                    print('%-36s %-10s %10s' % (sc, name, 'error'))
                    continue
                print('%-36s %-10s %10.0f %9.1f %9.2f %9.2f %7d' % (
                    sc, name, r['rps'], r['mbps'], r['p50'], r['p99'],
                    r['failed']))
        print()
        for name, (kb, n) in rss.items():
            print('peak RSS %-10s %8.1f MB (%d processes)' % (name, kb / 1024,
                                                             n))
        print()
        print('capsem req/s as a ratio of each peer (>1: capsem faster)')
        peers = [t[0] for t in targets if t[0] != 'capsem']
        print('%-36s %s' % ('scenario', ' '.join('%10s' % p for p in peers)))
        for sc, _, _, _ in scenarios:
            c = results.get(('capsem', sc))
            row = []
            for p in peers:
                r = results.get((p, sc))
                row.append('%10.2f' % (c['rps'] / r['rps']) if c and r and
                           r['rps'] else '%10s' % '-')
            print('%-36s %s' % (sc, ' '.join(row)))
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(d, ignore_errors=True)


def fmt(r):
    if r is None:
        return 'error'
    return '%9.0f req/s %8.1f MB/s p50 %7.2f ms p99 %7.2f ms failed %d' % (
        r['rps'], r['mbps'], r['p50'], r['p99'], r['failed'])


if __name__ == '__main__':
    main()
