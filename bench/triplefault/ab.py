#!/usr/bin/env python3
"""Triple-fault A/B (issue #19, item 1): capsem-vmm against
qemu-system-x86_64 -accel kvm, same L1, same guest kernel, same workload.

    bench/triplefault/ab.py --build-dir BUILD [--runs N] [--timeout S]
                            [--rounds R] [--l1-timeout S] [--log FILE]
                            [--qemu-noavx-cpu CPU] [--report LOG]

Not a test: no thresholds.  Take the lock first:
    flock /tmp/capsem-test.lock bench/triplefault/ab.py --build-dir build

One L1 guest (tests/vm/nested.py: Debian's kernel under qemu TCG, -cpu
EPYC, nested SVM) runs bench/triplefault/l1-ab.sh: a calibration triple
fault on each side, then N rounds of, in turn,

  capsem  capsemctl start --image (the test image, guest/image/
          build-test-image.sh, with ab-work in /usr/local/bin) --user root
          --mem 512 --cpus 1 --no-workspace -- ab-work WORKLOAD
  qemu    qemu-system-x86_64 -accel kvm -M microvm,acpi=off -cpu host -m 512
          -smp 1 -nographic -no-reboot, the image's vmlinux, a busybox
          initrd (qemu-init.sh) that runs the same ab-work

for WORKLOAD "avx" (AVX2 in user space: glibc's ifuncs and AVX2 intrinsics)
and "noavx" (no AVX instruction in user space: GLIBC_TUNABLES and SSE2;
qemu also hides AVX from CPUID with -cpu host,-avx,...: capsem has no knob
for the guest's CPUID or kernel command line, so its guest still sees AVX
and its kernel still enables it in XCR0).  ab-work.c says what it runs.

--timeout is one L2 run's limit (a run that reaches it is a hang).  Prints
one "BENCH/AB" line per run and a table per (vmm, workload): runs, ok,
triple faults, panics, hangs, other, and the CPU flags the guest saw.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, 'tests', 'vm'))
sys.path.insert(0, os.path.join(SRC, 'tests', 'e2e'))
import nested  # noqa: E402
import e2e  # noqa: E402

VMMS = ['capsem', 'qemu']
WORKLOADS = ['avx', 'noavx']
CLASSES = ['ok', 'triple-fault', 'panic', 'hang', 'other']


def build_ab_work(out):
    """Dynamic, with glibc (the test image has it for curl and git):
    build-test-image.sh's library copy fails on a static PROGRAM (ldd's
    status 1 under pipefail).  -z now: no lazy binding."""
    subprocess.run(['gcc', '-O2', '-Wall', '-Wl,-z,now', '-o', out,
                    os.path.join(HERE, 'ab-work.c')], check=True)


def add_image(build, vm, ab_work):
    """The test image with ab-work in /usr/local/bin, as vm/image (the
    files e2e.add_test_image copies; its manifest unchanged)."""
    script = os.path.join(SRC, 'guest', 'image', 'build-test-image.sh')
    bins = [os.path.join(build, 'guest', b)
            for b in ('capsem-init', 'capsem-relay', 'capsem-dns')]
    r = subprocess.run([script] + bins + [ab_work], stdout=subprocess.PIPE,
                       text=True)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError('build-test-image.sh failed (%d)' % r.returncode)
    src = r.stdout.strip().split('\n')[-1]
    dst = os.path.join(vm, 'image')
    os.makedirs(dst)
    for f in ('rootfs.erofs', 'initrd.img', 'vmlinux', 'bzImage',
              'manifest.json'):
        shutil.copy(os.path.join(src, f), dst)
    with open(os.path.join(src, 'manifest.json')) as f:
        return src, json.load(f).get('versions', {}).get('kernel', '?')


def qemu_initrd(out, ab_work):
    root = tempfile.mkdtemp(prefix='capsem-ab-q-')
    try:
        e2e.copy_bin('/bin/busybox', root, '/bin/busybox')
        os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
        nested.copy_libs(e2e.copy_bin(ab_work, root, '/bin/ab-work'), root)
        e2e.copy_bin(os.path.join(HERE, 'qemu-init.sh'), root, '/init')
        nested.make_cpio(root, out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build_l1_root(build, root, kdir, work, conf):
    vm = e2e.l1_root_base(build, root, kdir, os.path.join(HERE, 'l1-ab.sh'),
                          [])
    ab_work = os.path.join(work, 'ab-work')
    build_ab_work(ab_work)
    src, kver = add_image(build, vm, ab_work)
    nested.log('image %s (guest kernel %s)' % (src, kver))
    nested.add_qemu(root, vm)
    qemu_initrd(os.path.join(vm, 'qemu-initrd.cpio'), ab_work)
    with open(os.path.join(vm, 'triple-fault.elf'), 'wb') as f:
        f.write(nested.triple_fault_kernel())
    with open(os.path.join(vm, 'ab.conf'), 'w') as f:
        f.write(''.join('%s=%s\n' % kv for kv in conf.items()))
    with open(os.path.join(vm, 'kernels.txt'), 'w') as f:
        f.write('# triple-fault A/B payload\n')


def run_l1(build, kdir, conf, l1_timeout, stall, logpath):
    work = tempfile.mkdtemp(prefix='capsem-ab-')
    try:
        root = os.path.join(work, 'root')
        build_l1_root(build, root, kdir, work, conf)
        initrd = os.path.join(work, 'l1.cpio')
        nested.make_cpio(root, initrd)
        return nested.boot_l1(kdir, initrd, logpath, l1_timeout, stall=stall)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def flags_of(cpu):
    """'avx=1 avx2=1 xcr0=0x7' from an AB-CPU field list, or 'none'."""
    if cpu == 'none':
        return 'none'
    f = dict(x.split('=', 1) for x in cpu.split(',') if '=' in x)
    return 'avx=%s avx2=%s xsave=%s xcr0=%s' % (
        f.get('cpuinfo_avx', '?'), f.get('cpuinfo_avx2', '?'),
        f.get('cpuinfo_xsave', '?'), f.get('xcr0', '?'))


def report(text, stuck):
    text = text.replace('\r', '')
    for m in re.finditer(r'^AB-(CAL|OUT) .*$', text, re.M):
        print('BENCH/AB ' + m.group(0))
    runs = re.findall(r'^AB-RUN (\S+) (\S+) (\d+) (\S+) rc=(\S+) '
                      r'secs=(\S+) cpu=(\S+)$', text, re.M)
    tab = {}
    for vmm, wl, n, cl, rc, secs, cpu in runs:
        print('BENCH/AB run vmm=%s workload=%s n=%s class=%s rc=%s '
              'secs=%s cpu: %s' % (vmm, wl, n, cl, rc, secs, flags_of(cpu)))
        t = tab.setdefault((vmm, wl), {'runs': 0, 'flags': set()})
        t['runs'] += 1
        t[cl] = t.get(cl, 0) + 1
        t['flags'].add(flags_of(cpu))
    print('BENCH/AB %-7s %-6s %4s %4s %6s %6s %5s %5s  %s' % (
        'vmm', 'load', 'runs', 'ok', 'triple', 'panic', 'hang', 'other',
        'guest CPU flags seen (/proc/cpuinfo; XCR0)'))
    for vmm in VMMS:
        for wl in WORKLOADS:
            t = tab.get((vmm, wl), {'runs': 0, 'flags': set()})
            print('BENCH/AB %-7s %-6s %4d %4d %6d %6d %5d %5d  %s' % (
                vmm, wl, t['runs'], t.get('ok', 0), t.get('triple-fault', 0),
                t.get('panic', 0), t.get('hang', 0), t.get('other', 0),
                ' | '.join(sorted(t['flags'])) or '-'))
    sig = re.compile(r'triple fault|Kernel panic|Oops|bad frame|RIP:|'
                     r'general protection|BUG|XSAVE|segfault|trap')
    for m in re.finditer(r'^AB-FILE-BEGIN (\S+)\n(.*?)^AB-FILE-END \1$', text,
                         re.S | re.M):
        lines = [x for x in m.group(2).split('\n') if sig.search(x)]
        for x in lines[:10]:
            print('BENCH/AB sig %s: %s' % (m.group(1), x.strip()[:400]))
    done = 'CAPSEM-RUN-END' in text
    if not done:
        print('BENCH/AB incomplete: L1 did not finish (%s)%s' % (
            stuck or 'no end marker', nested.l1_panic_kind(text)))
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--runs', type=int, default=10,
                    help='runs per (vmm, workload) (default 10)')
    ap.add_argument('--timeout', type=int, default=240,
                    help='one L2 run\'s limit in seconds (default 240)')
    ap.add_argument('--rounds', type=int, default=100,
                    help='ab-work rounds per process (default 100)')
    ap.add_argument('--l1-timeout', type=int, default=None,
                    help='the L1 run\'s limit (default: 600 + 4 x runs x '
                    '(timeout / 2))')
    ap.add_argument('--qemu-noavx-cpu', default=None,
                    help='qemu\'s -cpu for the noavx workload (default: '
                    'host,-avx,-avx2,-fma,-f16c,-avx512f,-xop,-fma4,-vaes,'
                    '-vpclmulqdq)')
    ap.add_argument('--log', default=None)
    ap.add_argument('--report', metavar='LOG',
                    help='only print the table of an earlier run\'s log')
    args = ap.parse_args()
    if args.report:
        ok = report(open(args.report, 'rb').read().decode('utf-8', 'replace'),
                    None)
        sys.exit(0 if ok else 1)
    build = os.path.abspath(args.build_dir)
    logpath = nested.harness_log(args, 'bench', 'triplefault', 'ab-run.log')
    nested.require_tools(('/bin/busybox',), ('cpio', 'gcc',
                                             'qemu-system-x86_64'))
    kdir, ver = nested.debian_kernel()
    l1_timeout = args.l1_timeout or 600 + 4 * args.runs * args.timeout // 2
    nested.log('L1: Debian kernel %s, nested under qemu TCG; log %s; '
               'L1 limit %d s' % (ver, logpath, l1_timeout))
    conf = {'RUNS': args.runs, 'ROUNDS': args.rounds,
            'RUN_TIMEOUT': args.timeout}
    if args.qemu_noavx_cpu:
        if not re.fullmatch(r'[A-Za-z0-9_,.=+-]+', args.qemu_noavx_cpu):
            sys.exit('ab.py: --qemu-noavx-cpu: only letters, digits and ,.=+-_')
        conf['QCPU_noavx'] = args.qemu_noavx_cpu
    # the console is quiet while one L2 run goes on; no retry: a stuck L1
    # is a result to report, not to hide
    stuck = run_l1(build, kdir, conf, l1_timeout, args.timeout + 120,
                   logpath)
    ok = report(open(logpath, 'rb').read().decode('utf-8', 'replace'), stuck)
    print('BENCH/AB log: ' + logpath)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
