#!/usr/bin/env python3
"""Workspace file-system benchmark: capsem's /workspace against qemu +
virtiofsd and against tmpfs, in one nested L1 run.

    bench/workspace/bench.py --build-dir BUILD [--timeout S] [--log FILE]

Not a test: no thresholds.  One L1 guest (tests/vm/nested.py: Debian's
kernel under qemu TCG with nested SVM; this harness always runs nested)
runs bench/workspace/l1-bench.sh, which times workload.sh (same text
everywhere, guest clock, as root, 512 MB and 1 vCPU):

  capsem  /workspace of a real session: capsemctl start --image (the test
          image, guest/image/build-test-image.sh) --user root -w DIR, so
          capsem-fsd + capsem-vmm (with certd, policyd, netproxy);
  qemu    the same kernel (the image's vmlinux) under qemu-system-x86_64
          -accel kvm -M microvm,acpi=off -cpu host, guest memory a memfd
          (share=on), -global virtio-mmio.force-legacy=false, with
          /usr/lib/qemu/virtiofsd (QEMU 7.2's C one: -o cache=auto
          -o sandbox=namespace, chroot for the third attempt;
          vhost-user-fs-device tag workspace), a busybox initrd of our own
          (qemu-init.sh); an attempt that does not finish (the L2 guest
          resetting by itself under nested TCG) is tried again inside L1,
          up to 3 in all, each said with a BENCH-RETRY line;
  tmpfs   the capsem session's /tmp, right after its /workspace run.

qemu runs first, then the capsem session (see l1-bench.sh).

Workload: untar a deterministic tree of 5,000 small files (220 dirs,
64..4,095 bytes, made here, passed in the workspace directory and copied
to the guest's /tmp untimed) then sync; drop caches; `find | wc -l`; every
entry lstat'ed twice with `find -exec stat -c %s {} +` (~10,500 stat
calls); drop caches; dd 200 MB bs=1M conv=fsync; drop caches; dd it back;
rm -rf + sync.  Both shared directories sit on L1's tmpfs; drop_caches
empties the guest's caches, not L1's.  No `git status`: the test image has
no git.  Under nested TCG absolute times mean little; the ratios within
one run are the result.

Prints BENCH lines: per step the times (s) of capsem, qemu+virtiofsd and
tmpfs, and the ratios qemu/capsem and capsem/tmpfs; then notes (the
guests' XSAVE state, RETRYs, wall time).  An L1 run that froze or did not
reach its end (nested SVM under qemu TCG) is tried once more, with a
RETRY line (tests/vm/nested.py's run_attempts).

Status (2026-12-04): still no complete run; no ratio qemu/capsem yet.
Three L1 runs today (each flock /tmp/capsem-test.lock bench.py --build-dir
build), none with all three targets:
  The qemu half's idle L1 of 12-03 is explained and fixed: QEMU 7.2's C
  virtiofsd (libvhost-user) refuses legacy virtio ("fv_panic:
  libvhost-user: virtio legacy devices aren't supported by libvhost-user")
  and -M microvm's virtio-mmio is legacy unless -global
  virtio-mmio.force-legacy=false; the guest's mount then waited for ever.
  Seen and fixed on the host first (qemu TCG, same kernel, initrd and
  virtiofsd: the whole workload finished in 16 s), then in L1: virtiofsd
  -o sandbox=namespace works there, the mount and the workload run.
  Run 1 (qemu -cpu host): qemu finished 5 of 6 steps (untar+sync 206.07 s,
  find 1.77, stat-x2 19.97, write 9.70, read 1.73), then L1 went silent in
  rm-rf for 900 s, spinning (1544 CPU-s); RETRY: qemu's guest stopped with
  no message in the untar twice (no "reboot:" from the guest; in run 2
  qemu's status was 0: a reset, as bench/triplefault counts them), then
  the capsem
  session finished: capsem untar+sync 180.52 s, find 3.88, stat-x2 35.39,
  write 12.86, read 2.75, rm-rf+sync 23.63 with status 1 (busybox rm: "can't
  remove '/workspace/w/tree/d19/s09': Directory not empty", so capsem-fsd
  left entries behind) and tmpfs 1.08 / 0.14 / 0.43 / 0.97 / 0.22 / 0.54.
  Run 2 (-cpu host; qemu attempts retried inside L1): 3 of 3 qemu attempts
  ended in the untar the same way (after 79, 19 and 90 s); stopped by hand
  in the capsem half to try run 3 (capsem untar+sync 82.68 s there).
  Run 3 (-cpu host,-xsave): the guest booted with "x87 FPU will use
  FXSAVE" and no XSAVE warning, but attempts 1 and 2 hung in the untar
  with no console output at all (no BENCH-TICK: its user space stopped)
  and were killed at 480 s; stopped by hand in attempt 3 at the time box.
So the qemu + virtiofsd guest under nested SVM in qemu TCG resets or
hangs under this I/O load (8 attempts ended: 5 stopped with no message
and 2 hung in the untar, 1 froze L1 in rm-rf) where bench/triplefault's
2-6 s boots mostly finish; the one capsem session let run to its end
finished every step (rm-rf with status 1).  l1-bench.sh is back on -cpu
host, which got furthest.  Needs a host whose KVM runs the guest directly, or
more attempts than one time box allowed.
"""
import argparse
import hashlib
import io
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, 'tests', 'vm'))
sys.path.insert(0, os.path.join(SRC, 'tests', 'e2e'))
import nested  # noqa: E402
import e2e  # noqa: E402

VIRTIOFSD = '/usr/lib/qemu/virtiofsd'
STEPS = ['untar+sync', 'find-wc-cold', 'stat-x2', 'write-200M-fsync',
         'read-200M-cold', 'rm-rf+sync']
TARGETS = ['capsem', 'qemu', 'tmpfs']


def make_tarball(path):
    """tree/dNN/sNN/fNN.c: 20 x 10 x 25 = 5,000 files, sizes and bytes
    from sha256 of the name; fixed owner and mtime."""
    with tarfile.open(path, 'w', format=tarfile.USTAR_FORMAT) as tar:
        def add(name, data=None):
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 1700000000, 0, 0, '', ''
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(ti)
            else:
                ti.mode, ti.size = 0o644, len(data)
                tar.addfile(ti, io.BytesIO(data))
        add('tree')
        for d in range(20):
            add('tree/d%02d' % d)
            for s in range(10):
                sub = 'tree/d%02d/s%02d' % (d, s)
                add(sub)
                for f in range(25):
                    name = '%s/f%02d.c' % (sub, f)
                    h = hashlib.sha256(name.encode()).hexdigest()
                    size = 64 + int(h[:8], 16) % 4032
                    add(name, ((h + '\n') * (size // 65 + 1)).encode()[:size])


def qemu_initrd(out):
    root = tempfile.mkdtemp(prefix='capsem-wsbench-q-')
    try:
        e2e.copy_bin('/bin/busybox', root, '/bin/busybox')
        os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
        e2e.copy_bin(os.path.join(HERE, 'qemu-init.sh'), root, '/init')
        nested.make_cpio(root, out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build_l1_root(build, root, kdir):
    vm = e2e.l1_root_base(build, root, kdir,
                          os.path.join(HERE, 'l1-bench.sh'), [])
    fsd = e2e.copy_bin(os.path.join(build, 'fsd', 'capsem-fsd'), root,
                       '/vm/libexec/capsem-fsd')
    nested.copy_libs(fsd, root)
    e2e.add_test_image(build, vm)
    nested.add_qemu(root, vm)
    nested.copy_libs(e2e.copy_bin(VIRTIOFSD, root, '/vm/bin/virtiofsd'),
                     root)  # l1-init.sh keeps no /usr
    shutil.copy(os.path.join(HERE, 'workload.sh'), vm)
    make_tarball(os.path.join(vm, 'src.tar'))
    qemu_initrd(os.path.join(vm, 'qemu-initrd.cpio'))
    with open(os.path.join(vm, 'kernels.txt'), 'w') as f:
        f.write('# workspace bench payload\n')


def run_l1(build, kdir, timeout, logpath):
    work = tempfile.mkdtemp(prefix='capsem-wsbench-')
    try:
        root = os.path.join(work, 'root')
        build_l1_root(build, root, kdir)
        initrd = os.path.join(work, 'l1.cpio')
        nested.make_cpio(root, initrd)
        # the console is quiet while one step runs
        return nested.boot_l1(kdir, initrd, logpath, timeout, stall=900)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ratio(a, b):
    return '%.2f' % (a / b) if a is not None and b else 'n/a'


def report(text):
    text = text.replace('\r', '')
    lines = [x for x in text.split('\n') if x.startswith('BENCH-')]
    print('\n'.join('BENCH raw: ' + x[len('BENCH-'):] for x in lines))
    t = {}
    for m in re.finditer(r'^BENCH-STEP (\S+) (\S+) (\d+) (\d+)$', text, re.M):
        t[(m.group(1), m.group(2))] = (int(m.group(3)) / 1e6, int(m.group(4)))
    done = [x for x in TARGETS if 'BENCH-DONE ' + x in text]
    print('BENCH completed: %s' % (' '.join(done) or 'none'))

    def cell(k):
        v = t.get(k)
        if v is None:
            return '-', None
        return ('%.3f' % v[0]) + ('' if v[1] == 0 else '(rc%d)' % v[1]), v[0]

    print('BENCH %-17s %10s %10s %10s %12s %12s' % (
        'step (seconds)', 'capsem', 'qemu+vfsd', 'tmpfs', 'qemu/capsem',
        'capsem/tmpfs'))
    for s in STEPS:
        c, cv = cell(('capsem', s))
        q, qv = cell(('qemu', s))
        m, mv = cell(('tmpfs', s))
        print('BENCH %-17s %10s %10s %10s %12s %12s' % (
            s, c, q, m, ratio(qv, cv), ratio(cv, mv)))
    for who in ('qemu', 'capsem'):
        fpu = re.findall(r'^BENCH-NOTE %s guest dmesg: (.*)$' % who, text,
                         re.M)
        if any('XSAVE consistency problem' in x for x in fpu):
            state = 'ran without XSAVE/AVX (its kernel: "XSAVE consistency ' \
                'problem"; qemu 7.2 -cpu host in this nested setup does ' \
                'not preset XCR0)'
        elif any('will use FXSAVE' in x for x in fpu):
            state = 'ran without XSAVE/AVX (-cpu host,-xsave; its kernel: ' \
                '"x87 FPU will use FXSAVE")'
        elif any('Enabled xstate' in x for x in fpu):
            state = 'ran with XSAVE'
        else:
            state = 'XSAVE state unknown (no dmesg line)'
        print('BENCH note: the %s guest %s' % (who, state))
    return len(done) == len(TARGETS)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--timeout', type=int, default=3000)
    ap.add_argument('--log', default=None)
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    logpath = nested.harness_log(args, 'bench', 'workspace', 'bench-run.log')
    nested.require_tools(('/bin/busybox', VIRTIOFSD, '/usr/bin/curl',
                          '/usr/sbin/nft'), ('cpio', 'qemu-system-x86_64'))
    kdir, ver = nested.debian_kernel()
    nested.log('L1: Debian kernel %s, nested under qemu TCG; log %s' % (
        ver, logpath))
    t0 = time.time()
    attempts = []

    def once():
        attempts.append(1)
        return run_l1(build, kdir, args.timeout, logpath)
    nested.run_attempts(once, logpath, retries=1)
    ok = report(open(logpath, 'rb').read().decode('utf-8', 'replace'))
    qretry = len(re.findall(r'^BENCH-RETRY ', open(logpath, 'rb').read()
                            .decode('utf-8', 'replace').replace('\r', ''),
                            re.M))
    print('BENCH L1 runs: %d (RETRYs: %d); qemu attempts retried inside '
          'the last L1 run: %d; wall time %.0f s; log %s' % (
              len(attempts), len(attempts) - 1, qretry, time.time() - t0,
              logpath))
    if not ok:
        print('BENCH incomplete; log: ' + logpath)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
