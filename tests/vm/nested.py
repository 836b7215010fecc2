#!/usr/bin/env python3
"""VM test runner for capsem-vmm.

Where the host probe (`capsemctl doctor --json`, the probe `capsemctl
start` uses) says this host's KVM can run our guest, the checks
(l1-run.sh) run directly; --direct / --nested force a path.  Elsewhere a
first-level guest (L1) boots Debian's stock kernel under
`qemu-system-x86_64 -accel tcg -cpu EPYC -smp 2 -m 3G`, loads kvm_amd
(nested SVM works under TCG) and runs the same checks there; the results
come back on L1's serial console.

Inputs: the build directory (capsem-vmm, vm-host, guest-check), Debian's
kernel package (downloaded once with apt-get and cached under
${CAPSEM_CACHE:-/var/cache/capsem}/debian-kernel/) and, when available,
the capsem guest kernel (guest/kernel/build.sh; CAPSEM_VM_GUEST_KERNEL=DIR
to name one, CAPSEM_VM_GUEST_KERNEL=none to skip).

Prints one "PASS name" / "FAIL name: why" line per check, then
"N passed, N failed"; exit status 0 only if nothing failed.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get('CAPSEM_CACHE', '/var/cache/capsem')
XZ_MAGIC = b'\xfd7zXZ\x00'
WITH_QEMU = False
DISK_SIZE = 4 << 20


def log(msg):
    print('nested: ' + msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def debian_kernel():
    """Extracted Debian kernel: (dir, version) with vmlinux, vmlinuz, modules."""
    base = os.path.join(CACHE, 'debian-kernel')
    for d in sorted(glob.glob(os.path.join(base, '*', 'vmlinux')), reverse=True):
        kdir = os.path.dirname(d)
        return kdir, os.path.basename(kdir)
    os.makedirs(base, exist_ok=True)
    out = subprocess.run(['apt-cache', 'depends', 'linux-image-amd64'],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r'Depends: (linux-image-(\S+)-amd64)\b', out)
    if not m:
        sys.exit('nested: cannot find the Debian kernel package (apt-get update?)')
    pkg, ver = m.group(1), m.group(2) + '-amd64'
    kdir = os.path.join(base, ver)
    tmp = tempfile.mkdtemp(dir=base)
    log('downloading %s' % pkg)
    run(['apt-get', 'download', '-q', pkg], cwd=tmp, stdout=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(tmp, '*.deb'))[0]
    root = os.path.join(tmp, 'root')
    run(['dpkg-deb', '-x', deb, root])
    run(['depmod', '-b', root, ver])
    vmlinuz = os.path.join(root, 'boot', 'vmlinuz-' + ver)
    data = open(vmlinuz, 'rb').read()
    off = data.find(XZ_MAGIC)
    if off < 0:
        sys.exit('nested: no xz payload in ' + vmlinuz)
    p = subprocess.run(['xz', '-dc'], input=data[off:], capture_output=True)
    if not p.stdout.startswith(b'\x7fELF'):
        sys.exit('nested: decompressed kernel is not an ELF file')
    os.makedirs(os.path.join(tmp, 'out'))
    open(os.path.join(tmp, 'out', 'vmlinux'), 'wb').write(p.stdout)
    shutil.copy(vmlinuz, os.path.join(tmp, 'out', 'vmlinuz'))
    mods = subprocess.run(['modprobe', '-S', ver, '-d', root, '--show-depends',
                           'kvm_amd'], capture_output=True, text=True,
                          check=True).stdout.split('\n')
    os.makedirs(os.path.join(tmp, 'out', 'modules'))
    order = []
    for line in mods:
        f = line.split()
        if len(f) >= 2 and f[0] == 'insmod':
            shutil.copy(f[1], os.path.join(tmp, 'out', 'modules'))
            order.append(os.path.basename(f[1]))
    open(os.path.join(tmp, 'out', 'modules.order'), 'w').write('\n'.join(order) + '\n')
    if os.path.exists(kdir):
        shutil.rmtree(kdir)
    os.rename(os.path.join(tmp, 'out'), kdir)
    shutil.rmtree(tmp)
    return kdir, ver


def guest_kernel():
    want = os.environ.get('CAPSEM_VM_GUEST_KERNEL', '')
    if want == 'none':
        return None
    if want:
        return want
    script = os.path.join(SRC, 'guest', 'kernel', 'build.sh')
    if not os.path.exists(script):
        return None
    p = subprocess.run(['sh', script], capture_output=True, text=True)
    lines = p.stdout.strip().split('\n')
    if p.returncode != 0 or not lines or not os.path.isdir(lines[-1]):
        log('guest kernel build failed: ' + p.stderr.strip()[-300:])
        return None
    return lines[-1]


def make_cpio(root, out):
    files = subprocess.run('cd %s && find . | sort' % root, shell=True,
                           capture_output=True, check=True).stdout
    with open(out, 'wb') as f:
        subprocess.run(['cpio', '-o', '-H', 'newc', '--quiet', '-R', '0:0'],
                       cwd=root, input=files, stdout=f, check=True)


def make_disk(path):
    h = hashlib.sha256()
    block = b''
    seed = b'capsem-vm-test-disk'
    with open(path, 'wb') as f:
        n = 0
        while n < DISK_SIZE:
            seed = hashlib.sha256(seed).digest()
            block = seed * 128       # 4 KiB
            f.write(block)
            h.update(block)
            n += len(block)
    return h.hexdigest()


def copy_libs(binary, root):
    out = subprocess.run(['ldd', binary], capture_output=True, text=True).stdout
    for line in out.split('\n'):
        m = re.search(r'(/\S+)', line)
        if not m or not os.path.exists(m.group(1)):
            continue
        lib = m.group(1)
        dest = os.path.join(root, lib.lstrip('/'))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(os.path.realpath(lib), dest)


L1_SCRIPT = os.path.join(HERE, 'l1-run.sh')
QEMU_ROMS = ['bios-microvm.bin', 'qboot.rom', 'pvh.bin', 'linuxboot_dma.bin',
             'kvmvapic.bin']


def add_qemu(root, vmdir):
    """qemu-system-x86_64, its libraries and the ROMs microvm needs."""
    qdir = os.path.join(vmdir, 'qemu')
    os.makedirs(qdir, exist_ok=True)
    shutil.copy('/usr/bin/qemu-system-x86_64', qdir)
    copy_libs('/usr/bin/qemu-system-x86_64', root)
    for rom in QEMU_ROMS:
        src = os.path.join('/usr/share/qemu', rom)
        if os.path.exists(src):
            shutil.copy(os.path.realpath(src), qdir)


def triple_fault_kernel(code=b'\x0f\x0b'):
    """A PVH ELF whose first instruction is ud2: with no IDT the vCPU
    triple-faults at once.  code: other first instructions (up to 16
    bytes), e.g. b'\\xeb\\xfe' (jmp to itself: a guest that never boots)."""
    import struct
    code = code + b'\x90' * (16 - len(code))
    note = struct.pack('<III', 4, 4, 18) + b'Xen\0' + struct.pack('<I', 0x1000000)
    load_off = 64 + 2 * 56
    note_off = load_off + len(code)
    ehdr = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9) + struct.pack(
        '<HHIQQQIHHHHHH', 2, 62, 1, 0x1000000, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    load = struct.pack('<IIQQQQQQ', 1, 5, load_off, 0x1000000, 0x1000000,
                       len(code), len(code), 16)
    pnote = struct.pack('<IIQQQQQQ', 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return ehdr + load + pnote + code + note


def build_payload(build, vmdir, kdir, gdir):
    """Fill vmdir with everything l1-run.sh needs; returns the disk hash."""
    os.makedirs(vmdir, exist_ok=True)
    for src, name in [(os.path.join(build, 'vmm', 'capsem-vmm'), 'capsem-vmm'),
                      (os.path.join(build, 'tests', 'vm', 'vm-host'), 'vm-host'),
                      (L1_SCRIPT, 'l1-run.sh'),
                      (os.path.join(HERE, 'l1-lib.sh'), 'l1-lib.sh')]:
        shutil.copy(src, os.path.join(vmdir, name))
    # the test guest
    l2 = tempfile.mkdtemp()
    os.makedirs(os.path.join(l2, 'bin'))
    shutil.copy('/bin/busybox', os.path.join(l2, 'bin', 'busybox'))
    os.symlink('busybox', os.path.join(l2, 'bin', 'sh'))
    shutil.copy(os.path.join(build, 'tests', 'vm', 'guest-check'),
                os.path.join(l2, 'bin', 'guest-check'))
    shutil.copy(os.path.join(HERE, 'l2-init.sh'), os.path.join(l2, 'init'))
    os.chmod(os.path.join(l2, 'init'), 0o755)
    make_cpio(l2, os.path.join(vmdir, 'l2-initrd.cpio'))
    shutil.rmtree(l2)
    digest = make_disk(os.path.join(vmdir, 'disk.img'))
    open(os.path.join(vmdir, 'triple-fault.elf'), 'wb').write(triple_fault_kernel())
    shutil.copy(os.path.join(kdir, 'vmlinux'), os.path.join(vmdir, 'stock-vmlinux'))
    shutil.copy(os.path.join(kdir, 'vmlinuz'), os.path.join(vmdir, 'stock-vmlinuz'))
    k = ['STOCK_VMLINUX=%s/stock-vmlinux' % '$D', 'STOCK_BZIMAGE=%s/stock-vmlinuz' % '$D',
         'DISK=$D/disk.img']
    if gdir:
        shutil.copy(os.path.join(gdir, 'vmlinux'), os.path.join(vmdir, 'guest-vmlinux'))
        shutil.copy(os.path.join(gdir, 'bzImage'), os.path.join(vmdir, 'guest-bzImage'))
        k += ['GUEST_VMLINUX=$D/guest-vmlinux', 'GUEST_BZIMAGE=$D/guest-bzImage']
    else:
        k += ['GUEST_VMLINUX=', 'GUEST_BZIMAGE=']
    open(os.path.join(vmdir, 'kernels.txt'), 'w').write('\n'.join(k) + '\n')
    return digest


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far, or 0."""
    try:
        f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return 0.0


def run_l1_watched(cmd, logpath, timeout, stall):
    """Run qemu with its console in logpath.  Poll, so that a stuck L1
    (nested SVM under TCG) ends the run at once instead of at the timeout:
    a soft lockup it reports, or a console silent for `stall` seconds (L1
    frozen whole: seen in CI, no lockup report, the runner's own per-case
    timeouts never fired; the CPU qemu used meanwhile tells a spinning L1
    from an idle one).  Returns why L1 was stopped, or None."""
    t0 = last = time.time()
    size = 0
    cpu_last = 0.0
    why = None
    with open(logpath, 'wb') as out:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT)
        while p.poll() is None:
            now = time.time()
            if now - t0 > timeout:
                why = 'L1 timed out after %d s' % timeout
            elif now - last > stall:
                why = 'L1 silent for %d s (frozen, qemu used %.0f CPU-s ' \
                    'meanwhile)' % (stall, cpu_seconds(p.pid) - cpu_last)
            else:
                time.sleep(2)
                with open(logpath, 'rb') as f:
                    text = f.read()
                if len(text) != size:
                    size, last = len(text), time.time()
                    cpu_last = cpu_seconds(p.pid)
                if b'BUG: soft lockup' in text:
                    why = 'L1 soft lockup'
            if why:
                p.kill()
                p.wait()
                log(why)
                break
    return why


def harness_args(timeout):
    """The options every nested harness takes (add its own, then
    parse_args); `timeout` is the L1 run's default limit in seconds."""
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--timeout', type=int, default=timeout)
    ap.add_argument('--log', default=None)
    path = ap.add_mutually_exclusive_group()
    path.add_argument('--nested', action='store_true',
                      help='run in L1 under qemu TCG whatever the host probe says')
    path.add_argument('--direct', action='store_true',
                      help='run on this host\'s /dev/kvm whatever the probe says')
    return ap


def choose_direct(args):
    """True to run directly on /dev/kvm, False for nested TCG; the host
    probe decides (capsemctl doctor --json, the one `capsemctl start`
    uses) unless --nested or --direct say.  Prints the path and why."""
    if args.nested or args.direct:
        direct, why = args.direct, 'forced by --%s' % (
            'direct' if args.direct else 'nested')
    else:
        ctl = os.path.join(os.path.abspath(args.build_dir), 'cli', 'capsemctl')
        with tempfile.TemporaryDirectory(prefix='capsem-probe-') as home:
            p = subprocess.run([ctl, 'doctor', '--json'], capture_output=True,
                               text=True, timeout=120,
                               env=dict(os.environ, CAPSEM_HOME=home))
        try:
            kvm = json.loads(p.stdout)['kvm']
        except (ValueError, KeyError) as e:
            print('FAIL harness: host probe (capsemctl doctor --json): %s: %s'
                  % (e, (p.stdout + p.stderr).strip()[-300:]))
            print('0 passed, 1 failed')
            sys.exit(1)
        direct = bool(kvm['can_run'])
        why = 'host probe: %s (%s)' % (kvm['kind'], kvm['found'])
    print('harness: path %s, %s' % ('direct KVM' if direct else
                                    'nested KVM under qemu TCG', why),
          flush=True)
    return direct


def harness_log(args, *where):
    """The run's log: --log, or <build>/<where...>; its directory made."""
    logpath = args.log or os.path.join(os.path.abspath(args.build_dir), *where)
    os.makedirs(os.path.dirname(logpath), exist_ok=True)
    return logpath


def require_tools(files, programs):
    """One FAIL line and exit 1 if a file or a program on PATH is missing."""
    missing = [p for p in files if not os.path.exists(p)]
    missing += [p for p in programs if shutil.which(p) is None]
    if missing:
        print('FAIL harness: missing %s' % ' '.join(missing))
        print('0 passed, 1 failed')
        sys.exit(1)


def report_and_exit(results, logpath):
    """One PASS/FAIL line per (name, ok, why), the totals; exit 1 if any
    failed."""
    npass = sum(1 for r in results if r[1])
    for name, ok, why in results:
        print(('PASS %s' % name) if ok else ('FAIL %s: %s' % (
            name, ' '.join(str(why).split())[:400])))
    if npass != len(results):
        # Again at the end: a CI log shows only the tail of a long list.
        for name, ok, why in results:
            if not ok:
                print('FAIL %s: %s' % (name, ' '.join(str(why).split())[:400]))
        print('log: ' + logpath)
    print('%d passed, %d failed' % (npass, len(results) - npass))
    sys.exit(0 if npass == len(results) else 1)


def hang_reason(stuck, text):
    """Why an L1 run should be tried once more, or None: L1 stuck (what
    run_l1_watched said), a vm case or an e2e session that ran into its
    timeout, a pty step that timed out, or a run that never reached its
    end."""
    text = text.replace('\r', '')	# the L1 serial console's line ends
    hung = re.findall(r'^CAPSEM-CASE-TIMEOUT (\S+)', text, re.M)
    hung += re.findall(r'^E2E-RC (\S+) 124$', text, re.M)
    hung += ['pty-' + x for x in
             re.findall(r'^E2E-PTY-TIMEOUT (\d+)', text, re.M)]
    if stuck:
        return stuck
    if hung:
        return 'case %s hung' % ' '.join(hung)
    if 'CAPSEM-RUN-END' not in text:
        return 'L1 did not finish%s' % l1_panic_kind(text)
    return None


def l1_panic_kind(text):
    """': <what>' when L1's own kernel died (its oops is on L1's console),
    else ''.  One kind is named: an interrupt taken right after VMRUN in
    kvm_amd's __svm_vcpu_run, before the host's GS is restored, which
    hardware never does (GIF is 0 there): qemu TCG's nested SVM."""
    if 'Kernel panic' not in text:
        return ''
    if re.search(r'RIP: 0010:__svm_vcpu_run\+', text) and \
            re.search(r'asm_(sysvec|common_interrupt)', text):
        return ': L1 kernel panic, an interrupt taken inside VMRUN\'s GIF=0 window'
    return ': L1 kernel panic'



def run_attempts(run_once, logpath, retries=2):
    """Run L1 (run_once() returns why it was stopped, or None) and again,
    at most `retries` more times, while hang_reason finds it stuck: nested
    SVM under TCG freezes about one run in ten (L1 whole, or an L2).  Each
    retry is said out loud with RETRY and the stuck run's log is kept as
    <log>.try<N>; a run that fails without hanging is not retried."""
    for n in range(retries + 1):
        why = hang_reason(run_once(), open(logpath, 'rb').read().decode(
            'utf-8', 'replace'))
        if why is None or n == retries:
            return
        shutil.copy(logpath, '%s.try%d' % (logpath, n + 1))
        log('retrying: ' + why)
        print('RETRY harness: %s under nested TCG, attempt %d of %d' % (
            why, n + 2, retries + 1))


def boot_l1(kdir, initrd, logpath, timeout, cpu='EPYC', mem='3G', stall=240):
    """Boot L1 (Debian's kernel in kdir, initrd with /init) under qemu TCG
    with nested SVM, its console in logpath; see run_l1_watched (stall:
    the longest silence of a healthy run, with margin).  Returns why L1 was
    stopped, or None."""
    cmd = ['qemu-system-x86_64', '-accel', 'tcg', '-cpu', cpu, '-smp', '2',
           '-m', mem, '-nographic', '-no-reboot', '-nodefaults',
           '-serial', 'stdio', '-kernel', os.path.join(kdir, 'vmlinux'),
           '-initrd', initrd, '-append',
           'console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init']
    log('booting L1 (-cpu %s -m %s, %d MB initrd)' % (
        cpu, mem, os.path.getsize(initrd) >> 20))
    t0 = time.time()
    stuck = run_l1_watched(cmd, logpath, timeout, stall)
    log('L1 ran %.1f s' % (time.time() - t0))
    return stuck


def run_nested(build, kdir, gdir, timeout, logpath):
    work = tempfile.mkdtemp(prefix='capsem-nested-')
    try:
        root = os.path.join(work, 'root')
        vmdir = os.path.join(root, 'vm')
        digest = build_payload(build, vmdir, kdir, gdir)
        os.makedirs(os.path.join(root, 'bin'))
        shutil.copy('/bin/busybox', os.path.join(root, 'bin', 'busybox'))
        os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
        shutil.copy(os.path.join(HERE, 'l1-init.sh'), os.path.join(root, 'init'))
        os.chmod(os.path.join(root, 'init'), 0o755)
        os.makedirs(os.path.join(vmdir, 'modules'))
        for m in open(os.path.join(kdir, 'modules.order')).read().split():
            shutil.copy(os.path.join(kdir, 'modules', m), os.path.join(vmdir, 'modules'))
        shutil.copy(os.path.join(kdir, 'modules.order'), vmdir)
        for b in ('capsem-vmm', 'vm-host'):
            copy_libs(os.path.join(vmdir, b), root)
        if WITH_QEMU:
            add_qemu(root, vmdir)
        initrd = os.path.join(work, 'l1.cpio')
        make_cpio(root, initrd)
        # a case ends within CASE_TIMEOUT (120 s) and says so
        stuck = boot_l1(kdir, initrd, logpath, timeout, stall=180)
        for m in re.finditer(rb'CAPSEM-CASE (\S+) end (\d+s)',
                             open(logpath, 'rb').read()):
            log('case %s took %s' % (m.group(1).decode(), m.group(2).decode()))
        return digest, stuck
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_direct(build, kdir, gdir, logpath):
    work = tempfile.mkdtemp(prefix='capsem-vm-')
    try:
        vmdir = os.path.join(work, 'vm')
        digest = build_payload(build, vmdir, kdir, gdir)
        with open(logpath, 'wb') as out:
            subprocess.run(['sh', os.path.join(vmdir, 'l1-run.sh'), vmdir],
                           stdout=out, stderr=subprocess.STDOUT, timeout=900)
        return digest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sections(text):
    out = {}
    for m in re.finditer(r'CAPSEM-CASE (\S+) start\n(.*?)CAPSEM-CASE \1 end',
                         text, re.S):
        out[m.group(1)] = m.group(2)
    return out


def device_checks(expect, case, d, text, digest):
    """The device checks of one case section."""
    expect(case + ': ' + 'console: hvc0 round trip', 'L2 console: PONG 4242' in d, 'no PONG')
    expect(case + ': ' + 'blk: image reads back with its sha256', 'L2 blk sha256=' + digest in d,
           'hash differs or missing')
    expect(case + ': ' + 'blk: read-only disk refuses writes', 'L2 blk-ro: refused' in d, 'not refused')
    expect(case + ': ' + 'blk: writable scratch disk round trip (guest and host)',
           'L2 scratch: capsem-scratch' in d and ('SCRATCH-HOST %s capsem-scratch' % case) in text,
           'scratch contents differ')
    m = re.search(r'L2 rng: ([0-9a-f]*)', d)
    expect(case + ': ' + 'rng: virtio-rng is the guest hwrng', 'L2 rng-current: virtio_rng' in d,
           'not current')
    expect(case + ': ' + 'rng: returns random bytes', m and len(m.group(1)) == 64 and
           m.group(1) != '0' * 64, 'no bytes')
    expect(case + ': ' + 'vsock: control port READY', 'L2 control: sent' in d, 'not sent')
    expect(case + ': ' + 'vsock: port 4444 is reset', 'L2 vsock-refused-2-4444: reset' in d, 'not reset')
    expect(case + ': ' + 'vsock: CID 1 is reset', 'L2 vsock-refused-1-1443: reset' in d, 'not reset')
    expect(case + ': ' + 'vsock: 1443 reaches the netproxy channel with header and guest CID',
           'stream-new port=1443 cid=3 header=1' in d and
           'stream-header port=1443: CAPSEM/1 192.0.2.1 443' in d, 'no stream')
    expect(case + ': ' + 'vsock: 10 MB echo intact', 'L2 vsock-1443: ok 10485760' in d,
           (re.search(r'L2 vsock-1443: .*', d) or [''])[0])
    m = re.search(r'VMM-PROC(.*)', d)
    proc = m.group(1) if m else ''
    expect(case + ': ' + 'sandbox: CapEff 0', re.search(r'CapEff: 0+\b', proc), proc or 'no report')
    expect(case + ': ' + 'sandbox: Seccomp 2', re.search(r'Seccomp: 2\b', proc), proc or 'no report')


def check(text, digest, have_guest):
    results = []

    def expect(name, ok, why=''):
        results.append((name, bool(ok), why))

    text = text.replace('\r', '')
    expect('harness: /dev/kvm in the test machine', 'L1: /dev/kvm ready' in text
           or 'CAPSEM-RUN-END' in text, 'no /dev/kvm')
    expect('harness: all cases ran', 'CAPSEM-RUN-END' in text, 'run did not finish')
    sec = sections(text)
    cases = ['pvh-stock', 'bzimage', 'panic', 'poweroff', 'triple-fault',
             'vcpu-seccomp']
    if have_guest:
        cases[1:1] = ['devices', 'devices-standalone']
    for c in cases:
        s = sec.get(c, '')
        m = re.search(r'CAPSEM-RESULT %s-exit (PASS|FAIL)(.*)' % re.escape(c), s)
        expect('%s: vmm exit status and reason' % c, m and m.group(1) == 'PASS',
               m.group(2).strip() if m else 'no result')
    for c in ['pvh-stock', 'bzimage'] + (['devices', 'devices-standalone']
                                         if have_guest else []):
        expect('%s: guest reached init and its end marker' % c,
               'L2-MARKER done' in sec.get(c, ''), 'marker missing')
    expect('pvh-stock: 2 vCPUs came up (MP table)',
           'L2 cpus: 2' in sec.get('pvh-stock', ''), 'second CPU not seen')
    if have_guest:
        m = re.search(r'L2 memtotal: (\d+)', sec.get('bzimage', ''))
        expect('bzimage: 3.5 GiB of RAM around the MMIO hole',
               m and int(m.group(1)) > 3 * 1024 * 1024, m.group(0) if m else 'no line')
    expect('vcpu-seccomp: KVM_CREATE_VM on a vCPU thread kills the vmm (SIGSYS)',
           'VMM-EXIT case=vcpu-seccomp status=159 ' in sec.get('vcpu-seccomp', ''),
           'not killed by SIGSYS')
    expect('panic: reason names the kernel panic',
           re.search(r'reason=guest kernel panic.*Kernel panic', sec.get('panic', '')),
           'reason missing')
    if not have_guest:
        return results
    expect('devices: the parent gets VM_EVENT READY (control port)',
           'parent: VM_EVENT kind=1' in sec.get('devices', ''), 'no READY event')
    expect('devices: the parent gets VM_EVENT EXIT with the reason',
           'parent: VM_EVENT kind=2 status=0 reason=guest reset' in sec.get('devices', ''),
           'no EXIT event')
    for case in ('devices', 'devices-standalone'):
        device_checks(expect, case, sec.get(case, ''), text, digest)
    return results


def main():
    ap = harness_args(400)
    ap.add_argument('--l1-script', help='run this instead of l1-run.sh')
    ap.add_argument('--with-qemu', action='store_true', help='pack qemu into L1')
    ap.add_argument('--report', help='print log lines with this prefix, no checks')
    args = ap.parse_args()
    global L1_SCRIPT, WITH_QEMU
    if args.l1_script:
        L1_SCRIPT = os.path.abspath(args.l1_script)
    WITH_QEMU = args.with_qemu
    build = os.path.abspath(args.build_dir)
    logpath = harness_log(args, 'tests', 'vm', 'vm-run.log')
    kdir, ver = debian_kernel()
    gdir = guest_kernel()
    log('Debian kernel %s; guest kernel %s' % (ver, gdir or 'none'))
    if choose_direct(args):
        digest = run_direct(build, kdir, gdir, logpath)
    else:
        out = {}

        def once():
            out['digest'], stuck = run_nested(build, kdir, gdir, args.timeout,
                                              logpath)
            return stuck
        run_attempts(once, logpath)
        digest = out['digest']
    text = open(logpath, 'rb').read().decode('utf-8', 'replace')
    if args.report:
        lines = [x for x in text.replace('\r', '').split('\n')
                 if x.startswith(args.report)]
        print('\n'.join(lines))
        sys.exit(0 if lines else 1)
    results = check(text, digest, gdir is not None)
    hung = re.findall(r'CAPSEM-CASE-TIMEOUT (\S+)', text)
    results.insert(0, ('harness: no case hung (each ends within its timeout)',
                       not hung, 'hung: ' + ' '.join(hung)))
    if os.environ.get('CAPSEM_VM_GUEST_KERNEL') != 'none':
        results.insert(0, ('harness: guest kernel (guest/kernel/build.sh)',
                           gdir is not None, 'not built: device checks not run'))
    report_and_exit(results, logpath)


if __name__ == '__main__':
    main()
