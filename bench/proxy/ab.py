#!/usr/bin/env python3
"""bench/proxy A/B: two capsem builds behind one nginx, in one run, rounds
interleaved (A B, then B A, ...) so that drift in machine load falls on both
alike.  For a change that may cost proxy throughput: run the build before it
as A and after it as B.  Prints each round and, per scenario, the median
req/s of each build, B/A of those medians, and the median of the rounds'
own B/A ("paired").  No thresholds: this prints, it does not judge.

usage: ab.py BUILD_A BUILD_B [ROUNDS] [SECONDS] [SCENARIO_PREFIX]
(see run.sh for what it needs installed; same load generator, h2load --h1;
SCENARIO_PREFIX runs only the scenarios whose name starts with it)"""
import os
import shutil
import signal
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SCENARIOS = [
    # name, path, connections, new connection per request
    ('keep-alive 100 B, 200 conns', '/small', 200, False),
    ('new conn/request 100 B, 10 conns', '/small', 10, True),
    ('new conn/request 100 B, 200 conns', '/small', 200, True),
    ('TLS handshake, no resumption, 1 conn', None, 1, True),
]


def one(d, port, sc, seconds):
    _, path, conns, close = sc
    if path is None:
        return bench.handshakes(port, 300)
    if close:
        return bench.h2load(d, port, path, conns, requests=6000, close=True)
    return bench.h2load(d, port, path, conns, seconds=seconds)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = [os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    only = sys.argv[5] if len(sys.argv) > 5 else ''
    scenarios = [sc for sc in SCENARIOS if sc[0].startswith(only)]
    if not scenarios:
        sys.exit('ab.py: no scenario starts with %r' % only)
    signal.signal(signal.SIGTERM, bench.on_term)
    signal.signal(signal.SIGINT, bench.on_term)
    d = tempfile.mkdtemp(prefix='capsem-ab-')
    os.chmod(d, 0o755)
    got = {}
    try:
        with open(d + '/hosts', 'w') as f:
            f.write('127.0.0.1 localhost\n127.0.0.1 %s\n' % bench.HOST)
        bench.make_pki(d)
        os.chmod(d + '/leaf.key', 0o644)
        nginx_port = bench.free_port()
        bench.start_nginx(d, nginx_port)
        ports = []
        for i, b in enumerate(builds):
            port = bench.free_port()
            bench.start_capsem(d, b, port, nginx_port, tag='-' + 'AB'[i])
            ports.append(port)
        for r in range(rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for sc in scenarios:
                for i in order:
                    res = one(d, ports[i], sc, seconds)
                    rps = res['rps'] if res else 0.0
                    got.setdefault((sc[0], i), []).append(rps)
                    print('round %d %-36s %s %9.0f req/s' % (r + 1, sc[0],
                          'AB'[i], rps), flush=True)
        print()
        print('A = %s\nB = %s\n%d rounds, medians:' % (builds[0], builds[1],
                                                       rounds))
        # B/A of the medians, and the median of each round's own B/A (the
        # two runs of a round are back to back: drift over the run falls
        # on both, so the paired ratio is the steadier of the two)
        print('%-36s %10s %10s %7s %9s' % ('scenario', 'A req/s', 'B req/s',
                                           'B/A', 'paired'))
        for sc in scenarios:
            ra, rb = got[(sc[0], 0)], got[(sc[0], 1)]
            a, b = statistics.median(ra), statistics.median(rb)
            pairs = [y / x for x, y in zip(ra, rb) if x > 0]
            print('%-36s %10.0f %10.0f %7.2f %9.2f' % (
                sc[0], a, b, b / a if a else 0,
                statistics.median(pairs) if pairs else 0))
    finally:
        for p in reversed(bench.procs):
            bench.stop(p)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    main()
