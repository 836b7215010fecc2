"""What the integration scripts that drive real processes share: a check
list, spawned processes that are always reaped, bounded waits, openssl.

    import proctest as t
    t.check('name', cond, detail)   ...   t.finish()
"""
import os
import select
import socket
import subprocess
import sys

failures = []
procs = []


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


def check(name, cond, detail=''):
    print('%s %s%s' % ('ok  ' if cond else 'FAIL', name,
                        (': ' + str(detail)) if (detail and not cond) else ''),
          flush=True)
    if not cond:
        failures.append(name)


def free_port(addr='127.0.0.1'):
    s = socket.socket()
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def readline_timeout(stream, seconds):
    """One line from a pipe, or what came before the time ran out."""
    fd, line = stream.fileno(), b''
    while not line.endswith(b'\n'):
        r, _, _ = select.select([fd], [], [], seconds)
        if not r:
            break
        c = os.read(fd, 1)
        if not c:
            break
        line += c
    return line


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return p


def reap_all():
    """Kill and reap every process spawn() started."""
    for p in procs:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def wait_port(addr, port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit('%s exited early (status %s)' % (what, proc.returncode))
        try:
            socket.create_connection((addr, port), timeout=0.2).close()
            return
        except OSError:
            select.select([], [], [], 0.05)
    sys.exit('%s did not listen on %s:%d' % (what, addr, port))


def openssl(*args):
    r = run(['openssl'] + list(args))
    if r.returncode != 0:
        sys.exit('openssl %s: %s' % (args[0], r.stderr.decode()))


def finish():
    """Exit 1 naming the failed checks, else say so and exit 0."""
    if failures:
        sys.exit('%d failed: %s' % (len(failures), ', '.join(failures)))
    print('all passed')
    sys.exit(0)


def proc_status(pid):
    """/proc/PID/status as a dict of its fields."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
