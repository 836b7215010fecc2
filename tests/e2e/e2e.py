#!/usr/bin/env python3
"""End-to-end VM tests of the whole product.

The full session runs directly where the host probe says this host's KVM
can run the guest (nested.choose_direct), else inside the nested-KVM L1
guest of tests/vm/nested.py (qemu TCG, kvm_amd).  There,
`capsemctl start --kernel K --initrd I -- command` starts capsem-certd,
capsem-policyd, capsem-netproxy and capsem-vmm (dynamically linked; their
libraries and the loader are packed into L1), with CAPSEM_HOME and
XDG_RUNTIME_DIR on tmpfs and a user.toml written here.  The L2 guest is the
capsem guest kernel with an initrd holding capsem-init, capsem-relay,
capsem-dns, busybox, curl and nft (with their libraries) and guest-check.
A real HTTPS upstream (e2e-upstream, mbedTLS) listens in L1 on 127.0.0.2 and
is reached through `[upstream] resolve` + `ca_file`; catchers listen where an
escaping guest would go (203.0.113.7, 8.8.8.8 on L1's loopback).

    e2e.py --build-dir BUILD [--timeout S] [--log FILE] [--nested]

Prints one "PASS name" / "FAIL name: why" line per check, then
"N passed, N failed"; exit status 0 only if nothing failed.
"""
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
import nested  # noqa: E402  (debian_kernel, guest_kernel, make_cpio, copy_libs)

HOST = 'api.example.test'
CHILDREN = ['capsem-certd', 'capsem-policyd', 'capsem-netproxy', 'capsem-vmm']
USER_TOML = '''# user.toml of the end-to-end tests (written by tests/e2e/e2e.py)
[network]
default = "deny"
allow = ["api.example.test"]
block = ["denied.example.test"]
private_addresses = true

[http."api.example.test"]
deny = ["DELETE *", "POST /admin/**"]
allow = ["* *"]
default = "deny"

[credentials."api.example.test"]
header = "x-api-key"
env = "E2E_API_KEY"

[upstream]
resolve = ["api.example.test:443:127.0.0.2:8443"]
ca_file = "@PKI@/testca.pem"
'''


def log(msg):
    print('e2e: ' + msg, file=sys.stderr, flush=True)


def toml_line(text):
    """1-based line of the first line of USER_TOML containing text."""
    for i, line in enumerate(USER_TOML.split('\n'), 1):
        if text in line:
            return i
    return 0


def copy_bin(src, root, dest):
    path = os.path.join(root, dest.lstrip('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copy(os.path.realpath(src), path)
    os.chmod(path, 0o755)
    return path


def openssl(*args):
    subprocess.run(['openssl'] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d, hosts=(HOST,)):
    """The upstream's test CA and its leaf (api.pem, api.key) for hosts
    (default api.example.test)."""
    os.makedirs(d)
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj',
            '/CN=capsem e2e upstream CA', '-keyout', d + '/testca.key',
            '-out', d + '/testca.pem')
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
            '-nodes', '-subj', '/CN=' + hosts[0], '-keyout', d + '/api.key',
            '-out', d + '/api.csr')
    with open(d + '/ext.cnf', 'w') as f:
        f.write('subjectAltName=%s\n' % ','.join('DNS:' + h for h in hosts))
    openssl('x509', '-req', '-in', d + '/api.csr', '-CA', d + '/testca.pem',
            '-CAkey', d + '/testca.key', '-CAcreateserial', '-days', '2',
            '-extfile', d + '/ext.cnf', '-out', d + '/api.pem')
    for f in ('testca.key', 'api.csr', 'ext.cnf', 'testca.srl'):
        if os.path.exists(os.path.join(d, f)):
            os.unlink(os.path.join(d, f))


def make_l2_initrd(build, out):
    """capsem-init as /init, relay and DNS forwarder, busybox, curl, nft."""
    root = tempfile.mkdtemp(prefix='capsem-e2e-l2-')
    try:
        copy_bin(os.path.join(build, 'guest', 'capsem-init'), root, '/init')
        for b in ('capsem-relay', 'capsem-dns'):
            copy_bin(os.path.join(build, 'guest', b), root, '/capsem/bin/' + b)
        copy_bin('/bin/busybox', root, '/bin/busybox')
        applets = subprocess.run(['/bin/busybox', '--list'], check=True,
                                 capture_output=True, text=True).stdout.split()
        for a in applets:
            if a != 'busybox' and not os.path.exists(os.path.join(root, 'bin', a)):
                os.symlink('busybox', os.path.join(root, 'bin', a))
        for prog in ('/usr/bin/curl', '/usr/sbin/nft'):
            copy_bin(prog, root, prog)
            nested.copy_libs(prog, root)
        copy_bin(os.path.join(build, 'tests', 'vm', 'guest-check'), root,
                 '/bin/guest-check')
        copy_bin(os.path.join(build, 'tests', 'e2e', 'e2e-catcher'), root,
                 '/bin/e2e-catcher')
        copy_bin(os.path.join(HERE, 'guest-net.sh'), root, '/e2e/guest-net.sh')
        for d in ('proc', 'sys', 'dev', 'tmp', 'run', 'root', 'etc/ssl/certs'):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        with open(os.path.join(root, 'etc', 'passwd'), 'w') as f:
            f.write('root:x:0:0:root:/root:/bin/sh\n')
        with open(os.path.join(root, 'etc', 'group'), 'w') as f:
            f.write('root:x:0:\n')
        nested.make_cpio(root, out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def add_test_image(build, vm):
    """The test image (guest/image/build-test-image.sh, cached) as an image
    directory for `start --image`: its files, and its manifest with one
    agent added whose command is busybox's env, so that `start --image DIR
    claude ARG` shows the environment the agent gets."""
    script = os.path.join(SRC, 'guest', 'image', 'build-test-image.sh')
    bins = [os.path.join(build, 'guest', b)
            for b in ('capsem-init', 'capsem-relay', 'capsem-dns')]
    r = subprocess.run([script] + bins, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError('build-test-image.sh failed (%d)' % r.returncode)
    src = r.stdout.strip().split('\n')[-1]
    dst = os.path.join(vm, 'image')
    os.makedirs(dst)
    for f in ('rootfs.erofs', 'initrd.img', 'vmlinux', 'bzImage'):
        shutil.copy(os.path.join(src, f), dst)
    with open(os.path.join(src, 'manifest.json')) as f:
        manifest = json.load(f)
    manifest['agents'] = {'claude': {'command': '/usr/bin/env',
                                     'package': 'e2e', 'version': '0'}}
    with open(os.path.join(dst, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(vm, 'agent.env'), 'w') as f:
        f.write('# what the company gives every agent (e2e)\n'
                'E2E_CORP=corp-value\nE2E_GIVEN=from-agent-env\n')


def l1_root_base(build, root, kdir, run_script, tools):
    """The L1 root every session harness needs: busybox, tests/vm's
    l1-init.sh as /init and l1-lib.sh, run_script as /vm/l1-run.sh, the
    kvm modules, capsemctl and the four children, and the test tools
    (build-relative paths) in /vm/bin, each with its libraries."""
    vm = os.path.join(root, 'vm')
    os.makedirs(os.path.join(vm, 'modules'))
    copy_bin('/bin/busybox', root, '/bin/busybox')
    os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
    copy_bin(os.path.join(SRC, 'tests', 'vm', 'l1-init.sh'), root, '/init')
    copy_bin(run_script, root, '/vm/l1-run.sh')
    copy_bin(os.path.join(SRC, 'tests', 'vm', 'l1-lib.sh'), root,
             '/vm/l1-lib.sh')
    for m in open(os.path.join(kdir, 'modules.order')).read().split():
        shutil.copy(os.path.join(kdir, 'modules', m), os.path.join(vm, 'modules'))
    shutil.copy(os.path.join(kdir, 'modules.order'), vm)
    bins = [(os.path.join(build, 'cli', 'capsemctl'), '/vm/bin/capsemctl')]
    bins += [(os.path.join(build, t), '/vm/bin/' + os.path.basename(t))
             for t in tools]
    for c in CHILDREN:
        sub = {'capsem-certd': 'certd', 'capsem-policyd': 'policyd',
               'capsem-netproxy': 'netproxy', 'capsem-vmm': 'vmm'}[c]
        bins.append((os.path.join(build, sub, c), '/vm/libexec/' + c))
    # an image session shares its directory: capsem-fsd serves it
    bins.append((os.path.join(build, 'fsd', 'capsem-fsd'),
                 '/vm/libexec/capsem-fsd'))
    for src, dest in bins:
        nested.copy_libs(copy_bin(src, root, dest), root)
    return vm


def build_l1_root(build, root, kdir, gdir):
    vm = l1_root_base(build, root, kdir, os.path.join(HERE, 'l1-run.sh'),
                      ['tests/e2e/e2e-upstream', 'tests/e2e/e2e-catcher',
                       'tests/e2e/e2e-pty'])
    # the workspace case reads the guest's repository with the host's git
    nested.copy_libs(copy_bin('/usr/bin/git', root, '/vm/bin/git'), root)
    shutil.copy(os.path.join(gdir, 'vmlinux'), os.path.join(vm, 'guest-vmlinux'))
    make_l2_initrd(build, os.path.join(vm, 'l2-initrd.cpio'))
    add_test_image(build, vm)
    make_pki(os.path.join(vm, 'pki'))
    with open(os.path.join(vm, 'user.toml'), 'w') as f:
        f.write(USER_TOML)
    with open(os.path.join(vm, 'kernels.txt'), 'w') as f:
        f.write('# e2e payload\n')


def run_direct(root, args, timeout, logpath):
    """With /dev/kvm: root's vm/l1-run.sh (args after its payload dir) on
    this host, in its own network namespace (the run adds addresses to lo)
    and pid namespace (it counts its processes)."""
    with open(logpath, 'wb') as out:
        try:
            subprocess.run(['unshare', '--net', '--pid', '--fork',
                            '--mount-proc', 'sh',
                            os.path.join(root, 'vm', 'l1-run.sh'),
                            os.path.join(root, 'vm')] + args, stdout=out,
                           stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            log('run timed out after %d s' % timeout)


def run_l1(build, kdir, gdir, timeout, logpath, direct):
    work = tempfile.mkdtemp(prefix='capsem-e2e-')
    try:
        root = os.path.join(work, 'root')
        build_l1_root(build, root, kdir, gdir)
        if direct:
            run_direct(root, [], timeout, logpath)
            return None
        initrd = os.path.join(work, 'l1.cpio')
        nested.make_cpio(root, initrd)
        return nested.boot_l1(kdir, initrd, logpath, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- reading the log ---------------------------------------------------------

def files_of(text):
    out = {}
    for m in re.finditer(r'E2E-FILE-BEGIN (\S+)\n(.*?)\nE2E-FILE-END \1\n',
                         text, re.S):
        out[m.group(1)] = m.group(2)
    return out


def kernel_last_words(console):
    """The lines of a guest console log that say why its kernel died
    (oops, exception, RIP, the first frames of the trace), for a FAIL
    line; '' when there are none."""
    keep = re.compile(r'BUG|Oops|oops|panic|exception|fault|RIP:|Call Trace|'
                      r'^\[[ \d.]+\]  [ ?]*\w+\+0x')
    lines = [ln.strip() for ln in console.splitlines() if keep.search(ln)]
    return ('kernel: ' + ' | '.join(lines[:12]))[:900] if lines else ''


def rc_of(text, case):
    m = re.search(r'^E2E-RC %s (\d+)$' % re.escape(case), text, re.M)
    return int(m.group(1)) if m else None


def guest_sections(text):
    out = {}
    for m in re.finditer(r'G-BEGIN (\S+)\n(.*?)\nG-END \1 rc=(\d+)', text, re.S):
        out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


def http_code(body):
    m = re.search(r'HTTP=(\d{3})', body)
    return m.group(1) if m else None


def audit_lines(text):
    out = []
    for line in text.split('\n'):
        line = line.strip()
        if line.startswith('{'):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def check(text):
    results = []

    def expect(name, ok, why=''):
        results.append((name, bool(ok), why))

    text = text.replace('\r', '')
    f = files_of(text)
    expect('harness: /dev/kvm in the test machine',
           'L1: /dev/kvm ready' in text or 'CAPSEM-RUN-END' in text, 'no /dev/kvm')
    expect('harness: every case ran', 'CAPSEM-RUN-END' in text,
           'run did not finish')
    lock = re.search(r'BUG: soft lockup.*', text)
    expect('harness: no soft lockup in the L1 kernel', not lock,
           (lock.group(0) + ' (nested KVM under TCG hung)') if lock else '')
    expect('harness: capsemctl ca init', rc_of(text, 'ca-init') == 0,
           f.get('ca-init', '').strip()[-200:])
    base = re.search(r'E2E-CATCHER-BASELINE (\d+)', text)
    expect('harness: the catchers see what reaches them (control connections)',
           base and int(base.group(1)) == 2, base.group(0) if base else 'no baseline')

    # 1. basic session
    out = f.get('basic-out', '')
    err = f.get('basic-err', '')
    rc = rc_of(text, 'basic')
    expect('basic: the guest command prints hello-from-guest',
           'hello-from-guest' in out, out[-300:] or err[-300:])
    expect('basic: terminal input reaches the guest command', 'got-go' in out,
           out[-300:])
    expect('basic: capsemctl exits with the guest command\'s status 7', rc == 7,
           'status %s; %s' % (rc, err.strip()[-300:]))
    status = f.get('basic-status', '')
    names = re.findall(r'^\s+(\S+)\s+\d+\s+pid\s+\d+', status, re.M)
    expect('basic: capsemctl status lists five processes',
           len(names) == 5 and all(c in names for c in CHILDREN),
           '%d: %s' % (len(names), ' '.join(names)) if status else 'no status')
    procs = re.findall(r'^PROC (\d+) (.*)$', text, re.M)
    for c in CHILDREN:
        line = next((p[1] for p in procs if re.search(r'Name: %s\b' % c[:15], p[1])),
                    None)
        expect('basic: %s runs with CapEff 0 and Seccomp 2 (/proc)' % c,
               line and re.search(r'CapEff: 0+\b', line) and
               re.search(r'Seccomp: 2\b', line), line or 'not found in /proc')
    clog = f.get('basic-console-log', '')
    expect('basic: console.log has the guest kernel log',
           re.search(r'^\[\s*\d+\.\d+\] ', clog, re.M), clog[:200] or 'empty or missing')
    expect('basic: console.log has capsem-init\'s boot stages and the status',
           'capsem-init: stage ready' in clog and
           'session ended with status 7' in clog, clog[:300] or 'empty or missing')
    during = f.get('basic-during-ps', '')
    expect('basic: (control) ps sees the five processes of a live session',
           all(n in during for n in CHILDREN + ['capsemctl']), during[:300] or 'no ps')
    expect('basic: every process reaped after the session',
           'basic-leftovers' in f and f['basic-leftovers'].strip() == '',
           f.get('basic-leftovers', 'no ps')[:300])

    # 1a. console input sent before and faster than the guest reads it
    got = f.get('console-input', '')
    want = re.search(r'^WANT (\w+)', got, re.M)
    expect('console: 300000 bytes sent while the guest boots and sleeps '
           'all arrive, in order',
           rc_of(text, 'console-input') == 0 and want is not None and
           re.search(r'^GOT 300000 %s\s*$' % want.group(1), got, re.M),
           'status %s; %s %s' % (rc_of(text, 'console-input'), got.strip(),
                                 f.get('console-input-tail', '')[-300:]))

    # 1a2. a terminal that stops reading stalls the guest, not the session
    got = f.get('console-stall', '')
    expect('console: the session answers status while its terminal does '
           'not read (5 of 5)', rc_of(text, 'stall-status-answers') == 5,
           'answered %s of 5' % rc_of(text, 'stall-status-answers'))
    expect('console: the guest waits for a terminal that does not read',
           rc_of(text, 'stall-still-running') == 0,
           'the session was over before the terminal read')
    expect('console: once read, all 2,000,000 bytes and the end arrive',
           rc_of(text, 'console-stall') == 0 and
           re.search(r'^STALL-X 2000000\s*$', got, re.M) and
           re.search(r'^STALL-END-LINES 1\s*$', got, re.M),
           'status %s; %s %s %s' % (
               rc_of(text, 'console-stall'), got.strip(),
               f.get('console-stall-err', '')[-300:],
               kernel_last_words(f.get('console-stall-console-log', ''))))

    # 1b. an image directory: agent from its manifest, erofs root, env
    out = f.get('image-agent-out', '')
    err = f.get('image-agent-err', '')
    expect('image: `start --image DIR claude` runs the manifest\'s agent '
           'command and exits 0', rc_of(text, 'image-agent') == 0 and
           'PATH=' in out, 'status %s; %s' % (rc_of(text, 'image-agent'),
                                            (out + err).strip()[-300:]))
    expect('image: the agent sees the placeholder key, not the real one',
           'ANTHROPIC_API_KEY=sk-ant-capsem-placeholder-not-a-real-key-0000' in out
           and 'e2e-real-secret' not in out + err, out[-400:])
    expect('image: agent.env reaches the agent', 'E2E_CORP=corp-value' in out,
           out[-300:])
    expect('image: --env wins over agent.env', 'E2E_GIVEN=from-option' in out
           and 'from-agent-env' not in out, out[-300:])
    expect('image: arguments after the agent name reach it',
           'E2E_ARG=agent-arg' in out, out[-300:])
    expect('image: the agent runs as the image\'s user (agent)',
           re.search(r'^(USER|LOGNAME)=agent$', out, re.M), out[-300:])
    out = f.get('image-command-out', '')
    expect('image: `start --image DIR -- command` exits with its status 3',
           rc_of(text, 'image-command') == 3, 'status %s; %s' % (
               rc_of(text, 'image-command'),
               (out + f.get('image-command-err', '')).strip()[-300:]))
    expect('image: the command runs as agent (uid 1000)',
           'ID agent 1000' in out, out[-300:])
    expect('image: the root is an overlay on the image, a read-only disk',
           re.search(r'^MOUNT overlay / overlay', out, re.M) and
           re.search(r'^VDA-RO 1$', out, re.M), out[-400:])
    expect('image: /etc/hosts names the guest\'s host name',
           'HOSTS-HAS-NAME' in out, out[-300:])
    expect('image: an allowed HTTPS request works from the image',
           'HTTP=200' in out, out[-300:])
    expect('credentials: the guest holds a placeholder in the key\'s variable',
           'KEYVAR=capsem-placeholder-not-a-real-key-0000' in out, out[-300:])
    keys = re.findall(r'^UPSTREAM-KEY /with-key (.*)$', f.get('upstream', ''),
                      re.M)
    expect('credentials: the upstream got the real key, not the placeholder',
           keys == ['e2e-real-key-77'], keys or 'no x-api-key reached it')
    expect('credentials: the real key never reached the guest',
           'e2e-real-key-77' not in out + f.get('image-command-err', '')
           .replace('E2E_API_KEY', ''), out[-300:])
    iaudit = audit_lines(f.get('image-command-audit', ''))
    expect('image: that request is audited with an allow verdict',
           any(a.get('verdict') == 'allow' and a.get('event') == 'request' and
               a.get('path') == '/from-image' for a in iaudit),
           f.get('image-command-audit', 'no audit file')[-300:])
    miss = f.get('image-missing', '')
    expect('image: a directory that is no image fails with a one-line reason',
           rc_of(text, 'image-missing') == 1 and 'manifest.json' in miss and
           miss.strip().count('\n') == 0, 'status %s: %s' % (
               rc_of(text, 'image-missing'), miss.strip()[-300:]))

    # 1b''. capsemctl doctor passes where sessions run
    doc = f.get('doctor', '')
    expect('doctor: every check ok where a session runs (exit 0, no FAIL)',
           rc_of(text, 'doctor') == 0 and 'can start here' in doc and
           not re.search(r'^(FAIL|WARN) ', doc, re.M), doc[-600:])
    expect('doctor: the kvm line names hardware KVM',
           re.search(r'^ok +kvm +hardware KVM \(kvm_(amd|intel)\)', doc, re.M),
           doc[:300])
    try:
        dj = json.loads(f.get('doctor-json', ''))
    except ValueError:
        dj = {}
    expect('doctor --json: ok, kvm kind hardware, can_run',
           dj.get('ok') is True and dj.get('kvm', {}).get('kind') == 'hardware'
           and dj['kvm'].get('can_run') is True,
           f.get('doctor-json', '')[:300])

    # 1b'. start -d: in the background, ends by itself, logs kept
    did = re.search(r'^E2E-SESSION detach (\S+)$', text, re.M)
    expect('detach: `start -d` prints the id and returns 0',
           rc_of(text, 'detach-start') == 0 and did and did.group(1),
           f.get('detach-err', '')[-300:])
    expect('detach: the session runs in the background (capsemctl list)',
           did and did.group(1) in f.get('detach-list', '').split(),
           f.get('detach-list', '')[:200])
    expect('list: the detached session is booting or detached, AGENT/COMMAND'
           ' its command',
           did and re.search(r'^%s +- +/bin/sh -c echo detached.* '
                             r'(booting|detached) ' % re.escape(did.group(1)),
                             f.get('detach-list', ''), re.M),
           f.get('detach-list', '')[:300])
    expect('list: the ended session is shown as ended(5)',
           did and re.search(r'^%s .* ended\(5\) ' % re.escape(did.group(1)),
                             f.get('detach-list-ended', ''), re.M),
           f.get('detach-list-ended', '')[:300])
    expect('detach: it ends by itself when its command ends',
           rc_of(text, 'detach-gone') == 0, 'still listed after 90 s')
    dlogs = f.get('detach-logs', '')
    expect('logs: `capsemctl logs ID` shows the ended session\'s console log',
           rc_of(text, 'detach-logs') == 0 and
           'session ended with status 5' in dlogs, dlogs[-300:])

    # 1c. a terminal: size, detach, attach
    front = f.get('attach-front', '')
    expect('attach: the guest console has the terminal\'s size (33 101)',
           re.search(r'^33 101$', front, re.M), front[-400:])
    expect('attach: a resize reaches the guest (44 120)',
           re.search(r'^44 120$', front, re.M), front[-400:])
    expect('attach: Ctrl-] detaches and the front exits 0',
           'detached from session' in front and
           re.search(r'E2E-PTY-EXIT 0$', front, re.M), front[-400:])
    sid = re.search(r'^E2E-SESSION attach (\S+)$', text, re.M)
    expect('attach: the detached session runs on (capsemctl list)',
           sid and sid.group(1) in f.get('attach-list', ''),
           f.get('attach-list', '')[:200])
    expect('list: after Ctrl-] the session is detached',
           sid and re.search(r'^%s .* detached ' % re.escape(sid.group(1)),
                             f.get('attach-list', ''), re.M),
           f.get('attach-list', '')[:300])
    expect('list: after `exit 9` from attach the session is ended(9)',
           sid and re.search(r'^%s .* ended\(9\) ' % re.escape(sid.group(1)),
                             f.get('attach-list-after', ''), re.M),
           f.get('attach-list-after', '')[:300])
    client = f.get('attach-client', '')
    expect('attach: `capsemctl attach` reaches the same shell',
           'attached to session' in client and 'BACK-5' in client, client[-400:])
    expect('attach: the attached terminal\'s size reaches the guest (25 90)',
           re.search(r'^25 90$', client, re.M), client[-400:])
    expect('attach: `capsemctl attach` exits with the guest command\'s status 9',
           re.search(r'E2E-PTY-EXIT 9$', client, re.M) and
           'ended' in client, client[-400:])
    expect('attach: the session is gone after its command ended',
           sid and 'attach-running-after' in f and
           sid.group(1) not in f['attach-running-after'].split(),
           f.get('attach-running-after', 'no list -q')[:200])
    fend = f.get('attach-front-end', '')
    expect('attach: on a terminal to its end, start shows why and exits with '
           'the status 6', 'ended: guest ended: the session command exited '
           'with status 6' in fend and re.search(r'E2E-PTY-EXIT 6$', fend, re.M),
           fend[-400:])
    expect('attach: attaching to an ended session fails (status 1)',
           rc_of(text, 'attach-gone') == 1 and 'no session' in
           f.get('attach-gone', ''), f.get('attach-gone', '')[:200])

    # 2. network session
    g = guest_sections(f.get('net-out', ''))
    expect('net: the guest script ran to its end',
           'G-DONE' in f.get('net-out', ''),
           (f.get('net-out', '')[-300:] + f.get('net-err', '')[-300:]) or 'no output')
    expect('net: capsemctl exits 0 with the guest script', rc_of(text, 'net') == 0,
           'status %s; %s' % (rc_of(text, 'net'), f.get('net-err', '')[-300:]))
    ups = re.findall(r'^UPSTREAM api (\S+) (\S+)$', f.get('upstream', ''), re.M)

    def sec(name):
        return g.get(name, ('(no section)', -1))

    def upstream_saw(path):
        if 'upstream' not in f:
            return ['no upstream log']
        return [u for u in ups if u[1] == path]

    def ok_get(name, method, path):
        body, _ = sec(name)
        expect('net: %s: %s https://%s%s -> 200 with the upstream\'s body' %
               (name, method, HOST, path),
               http_code(body) == '200' and
               ('upstream api %s %s' % (method, path)) in body, body[-300:])

    body, _ = sec('dns-allowed')
    expect('net: dns-allowed: api.example.test resolves to a 198.18/15 address',
           re.search(r'Address:\s*198\.1[89]\.', body), body[-300:])
    ok_get('get-allowed', 'GET', '/')
    ok_get('post-allowed', 'POST', '/submit')
    ok_get('get-allowed-again', 'GET', '/again')

    body, _ = sec('denied-dns-lookup')
    expect('net: denied-dns-lookup: a blocked name resolves to 198.19.255.254',
           re.search(r'Address:\s*198\.19\.255\.254\b', body), body[-300:])

    def denied(name, code, rule, path, line_of=None):
        body, _ = sec(name)
        rl = re.search(r'^rule: (.*)$', body, re.M)
        ok = http_code(body) == code and (rule is None or (rl and rule in rl.group(1)))
        if line_of:
            ok = ok and re.search(r'source: \S*user\.toml:%d\b' % toml_line(line_of),
                                  body)
        expect('net: %s: %s naming the rule %s and its file:line' % (name, code, rule),
               ok, body[-300:])
        expect('net: %s: never reached the upstream' % name,
               name in g and not upstream_saw(path),
               str(upstream_saw(path)) if name in g else 'did not run')

    denied('denied-host', '403', 'block "denied.example.test"', '/denied-host',
           'block = ["denied.example.test"]')
    denied('default-deny-host', '403', 'default = "deny"', '/nolist',
           'default = "deny"')
    # resolved by the guest's own DNS: the explained 403, not "could not
    # resolve host" (issue 18, finding 9)
    denied('denied-host-dns', '403', 'block "denied.example.test"', '/denied-dns',
           'block = ["denied.example.test"]')
    denied('default-deny-dns', '403', 'default = "deny"', '/nolist-dns',
           'default = "deny"')
    body, rc = sec('denied-name-port-22')
    expect('net: denied-name-port-22: another port of a denied name is reset',
           body != '(no section)' and rc != 0, 'rc=%d %s' % (rc, body[-300:]))
    denied('denied-method', '403', 'deny "DELETE *"', '/item/1', 'deny = ["DELETE *"')
    denied('denied-path', '403', 'deny "POST /admin/**"', '/admin/users',
           'deny = ["DELETE *"')
    body, _ = sec('sni-host-mismatch')
    expect('net: sni-host-mismatch: SNI allowed + Host blocked is refused',
           http_code(body) in ('421', '403'), body[-300:])
    expect('net: sni-host-mismatch: never reached the upstream',
           'sni-host-mismatch' in g and not upstream_saw('/fronted'),
           str(upstream_saw('/fronted')))
    body, _ = sec('connect-method')
    expect('net: connect-method: CONNECT is refused',
           'connect-method' in g and http_code(body) != '200' and
           not [u for u in ups if u[0] == 'CONNECT'] and not upstream_saw('/connect'),
           body[-300:])
    body, _ = sec('plain-http-off')
    expect('net: plain-http-off: plain HTTP is refused with http = false',
           'plain-http-off' in g and http_code(body) != '200' and not upstream_saw('/plain'), body[-300:])

    # 3. escapes
    ok_get('guest-picks-address', 'GET', '/pinned')
    catches = [ln for ln in f.get('catcher', '').split('\n') if ln.startswith('CATCH ')]
    escaped = catches[int(base.group(1)):] if base else catches
    for name, want in (('raw-ip-443', 'not200'), ('raw-ip-8080', 'not200'),
                       ('ipv6', 'not200'), ('ipv6-literal', 'not200'),
                       ('flushed-allowed-host', 'not200'),
                       ('flushed-raw-ip-443', 'not200'),
                       ('raw-ip-22', 'fail'), ('icmp', 'fail'),
                       ('flushed-raw-ip-22', 'fail')):
        body, rc = sec(name)
        if body == '(no section)':
            expect('escape: %s fails' % name, False, 'did not run')
        elif want == 'not200':
            expect('escape: %s gets no answer from anywhere' % name,
                   http_code(body) != '200' and 'upstream api' not in body,
                   body[-300:])
        else:
            expect('escape: %s fails' % name, rc != 0, 'rc=%d %s' % (rc, body[-300:]))
    for name in ('raw-ip-443', 'raw-ip-8080', 'flushed-raw-ip-443'):
        path = '/after-flush' if 'flushed' in name else '/raw'
        expect('escape: %s never reached the upstream' % name,
               name in g and not upstream_saw(path), str(upstream_saw(path)))
    body, _ = sec('udp-8888-53')
    expect('escape: udp-8888-53: the answer comes from the proxy (the denied '
           'address 198.19.255.254)',
           re.search(r'Address:\s*198\.19\.255\.254\b',
                     body.split('Name:')[-1] if 'Name:' in body else ''),
           body[-300:])
    body, _ = sec('dns-txt')
    expect('escape: dns-txt: a TXT query gets no data',
           'text =' not in body and ('REFUSED' in body or "can't find" in body),
           body[-300:])
    body, _ = sec('dns-long-label')
    answers = re.findall(r'Address:\s*(\d+\.\d+\.\d+\.\d+)',
                         body.split('Name:')[-1] if 'Name:' in body else '')
    expect('escape: dns-long-label: a tunnel-style (denied) name gets only the '
           'proxy\'s denied address', 'dns-long-label' in g and
           answers == ['198.19.255.254'], body[-300:])
    for v in ('vsock-2-4444', 'vsock-1-1443', 'vsock-0-1443', 'vsock-3-1443'):
        body, rc = sec(v)
        expect('escape: %s: AF_VSOCK connect fails' % v,
               body != '(no section)' and 'connected' not in body, body[-200:])
    body, rc = sec('nft-flush')
    expect('escape: the guest flushed its own nft rules', rc == 0, body[-200:])
    body, _ = sec('nft-after')
    expect('escape: no rules left after the flush', body.strip() == '0', body[-200:])
    expect('escape: nothing reached the catchers (203.0.113.7, 8.8.8.8)',
           'catcher' in f and not escaped, ' | '.join(escaped)[:400] or 'no log')

    # audit log
    audit = audit_lines(f.get('net-audit', ''))
    allowed = set((a.get('method'), a.get('path')) for a in audit
                  if a.get('verdict') == 'allow' and a.get('event') == 'request')
    net_seen = [u for u in ups if not u[1].startswith('/loop-') and
                u[1] not in ('/from-image', '/with-key')]
    expect('audit: every request that reached the upstream has an allow verdict',
           'net-audit' in f and net_seen and all(u in allowed for u in net_seen),
           str([u for u in net_seen if u not in allowed])[:300])

    def audited(pred):
        return any(pred(a) for a in audit)

    expect('audit: allowed GET / is logged',
           audited(lambda a: a.get('host') == HOST and a.get('method') == 'GET' and
                   a.get('path') == '/' and a.get('verdict') == 'allow'),
           '%d lines' % len(audit))
    expect('audit: denied DELETE is logged with its rule',
           audited(lambda a: a.get('method') == 'DELETE' and a.get('verdict') == 'deny'
                   and 'DELETE *' in a.get('rule', '')), '%d lines' % len(audit))
    expect('audit: denied POST /admin/users is logged',
           audited(lambda a: a.get('path') == '/admin/users' and
                   a.get('verdict') == 'deny'), '%d lines' % len(audit))
    expect('audit: the blocked host is logged',
           audited(lambda a: a.get('host') == 'denied.example.test' and
                   a.get('verdict') == 'deny'), '%d lines' % len(audit))
    expect('audit: the DNS TXT query is logged',
           audited(lambda a: 'dns' in a.get('event', '') and
                   a.get('host') == HOST and a.get('verdict') == 'deny'),
           '%d lines' % len(audit))
    expect('audit: the tunnel-style DNS name is logged',
           audited(lambda a: a.get('host', '').endswith('exfil.example.com')),
           '%d lines' % len(audit))

    # 1b'. the workspace
    out = f.get('workspace-out', '')
    host = f.get('workspace-host', '')
    why = (out + f.get('workspace-err', '')).strip()[-400:]
    expect('workspace: the session in a project directory ends 0',
           rc_of(text, 'workspace') == 0, 'status %s; %s' % (
               rc_of(text, 'workspace'), why))
    expect('workspace: the agent starts in /workspace, a virtiofs mount',
           'PWD /workspace' in out and re.search(
               r'WSMOUNT virtiofs rw,nosuid,nodev', out), why)
    expect('workspace: the guest reads what the host made',
           'READ host-made' in out, why)
    expect('workspace: mkdir, create, rename, append, rm, rmdir work',
           'MADE' in out and 'REMOVED' in out, why)
    expect('workspace: the host sees the result at once, as its own user',
           'HOST-G guest-made,again,' in host and
           'HOST-OWNER %d' % 0 in host and 'HOST-GONE' not in host and
           'HOST-RMD' not in host, host)
    expect('workspace: the host user\'s files are the agent\'s in the guest',
           'OWNER agent:1000' in out, why)
    expect('workspace: the 300 files the guest made are on the host',
           'MANY 300' in out and 'HOST-MANY 300' in host, why + host)
    expect('workspace: a guest symlink is stored as a link, not followed',
           'GUEST-LINK' in out and 'HOST-GUESTLINK /etc/passwd' in host,
           why + host)
    expect('workspace: a host symlink out of the workspace reaches the guest '
           'as a link; its target is not the host file',
           re.search(r'HOSTLINK /\S+/outside\.txt', out) and
           'HOSTLINK-READ' not in out and
           'HOST-OUTSIDE outside-secret' in host, why + host)
    expect('workspace: FIFOs and device nodes cannot be made',
           'MKNOD-FIFO-MADE' not in out and 'MKNOD-DEV-MADE' not in out and
           'HOST-FIFO' not in host and 'HOST-DEV' not in host, why + host)
    expect('workspace: chmod 4755 sets no setuid bit on the host',
           'HOST-SUIDMODE 755' in host, host)
    expect('workspace: git init, add, commit work in the guest; status is '
           'clean after the commit and shows the edit after it',
           'GIT-LOG guest-commit' in out and 'GIT-CLEAN []' in out and
           'GIT-DIRTY [ M src/b.txt]' in out, why)
    expect('workspace: the host\'s git reads the guest\'s repository '
           '(log, fsck --strict, the edit), owned by the host user',
           'HOST-GITLOG guest-commit' in host and 'HOST-GITFSCK-OK' in host and
           'HOST-GITSTATUS [ M src/b.txt]' in host and
           'HOST-GITOWNER 0' in host, host)
    rec = f.get('workspace-record', '')
    expect('workspace: session.json records the directory and rw',
           re.search(r'"workspace":"[^"]*/work/proj","workspace_mode":"rw"',
                     rec), rec[-300:] or 'no record')
    line = f.get('workspace-audit', '').strip()
    try:
        aud = json.loads(line)
    except ValueError:
        aud = {}
    expect('workspace: the audit log\'s first line records the directory and rw',
           aud.get('event') == 'workspace' and aud.get('mode') == 'rw' and
           str(aud.get('path', '')).endswith('/work/proj') and
           re.match(r'^\d{4}-\d\d-\d\dT', str(aud.get('time', ''))),
           line[-300:] or 'no audit line')
    shown = f.get('workspace-logs', '')
    expect('workspace: `capsemctl logs` shows it',
           re.search(r' workspace /\S*/work/proj rw$', shown, re.M),
           shown[-300:] or 'not shown')
    out = f.get('workspace-ro-out', '')
    why = (out + f.get('workspace-ro-err', '')).strip()[-400:]
    expect('workspace ro: mounted read-only, readable',
           rc_of(text, 'workspace-ro') == 0 and 'ROMOUNT ro' in out and
           'RO-READ host-made' in out, why)
    expect('workspace ro: create, write, mkdir, rm, mv all refused (EROFS)',
           all(k in out for k in ('RO-CREATE-REFUSED', 'RO-WRITE-REFUSED',
                                  'RO-MKDIR-REFUSED', 'RO-RM-REFUSED',
                                  'RO-MV-REFUSED', 'RO-EROFS')), why)
    expect('workspace ro: the host directory is unchanged',
           rc_of(text, 'workspace-ro-unchanged') == 0,
           f.get('workspace-ro-diff', '')[-300:])
    expect('workspace: start in / is refused with one line, nothing started',
           rc_of(text, 'workspace-root') not in (None, 0) and
           re.search(r'capsemctl: start: .*/.*--force',
                     f.get('workspace-root', '')),
           f.get('workspace-root', '')[-300:])

    # 4. killed children
    for victim in CHILDREN + ['capsem-fsd']:
        k = 'kill-' + victim
        rc = rc_of(text, k)
        err = f.get(k + '-err', '')
        m = re.search(r'E2E-KILL %s pid (\S+)' % victim, text)
        expect('%s: the child was found and killed' % k,
               m and m.group(1) != 'none', m.group(0) if m else 'not reached')
        # The reason names the dead child: its death, or (netproxy) the vmm
        # reporting its lost channel when that event is handled first.
        short = victim[len('capsem-'):]
        ended = re.search(r'session \S+ ended: (.*)', err)
        expect('%s: the session ends non-zero, naming the child' % k,
               rc not in (None, 0, 143) and ended and (
                   re.search(r'%s\S* \(pid \d+\) killed by signal 9' % victim,
                             ended.group(1)) or
                   'lost the %s channel' % short in ended.group(1)),
               'status %s; %s' % (rc, err.strip()[-300:]))
        expect('%s: the guest command did not go on' % k,
               (k + '-out') in f and 'not-killed' not in f[k + '-out'],
               'it did' if (k + '-out') in f else 'did not run')
        # fail closed: whatever reached the upstream had an allow verdict
        # written by policyd (so nothing passed without one around the kill)
        kaudit = audit_lines(f.get(k + '-audit', ''))
        allowed = set(a.get('path') for a in kaudit
                      if a.get('verdict') == 'allow' and a.get('event') == 'request')
        seen = [u[1] for u in ups if u[1].startswith('/loop-%s-' % victim)]
        unaudited = [p for p in seen if p not in allowed]
        expect('%s: every request that reached the upstream has an allow '
               'verdict in the audit log (%d requests)' % (k, len(seen)),
               (k + '-audit') in f and not unaudited, ' '.join(unaudited)[:300]
               if (k + '-audit') in f else 'no audit log')
        expect('%s: every process reaped' % k,
               (k + '-leftovers') in f and f[k + '-leftovers'].strip() == '',
               f.get(k + '-leftovers', 'no ps')[:300])
    return results


def main():
    ap = nested.harness_args(600)
    ap.add_argument('--check-only', action='store_true',
                    help='only check an existing --log')
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    logpath = nested.harness_log(args, 'tests', 'e2e', 'e2e-run.log')
    if not args.check_only:
        nested.require_tools(('/usr/bin/curl', '/usr/sbin/nft', '/bin/busybox'),
                             ('openssl', 'cpio', 'qemu-system-x86_64'))
        gdir = nested.guest_kernel()
        if gdir is None:
            print('FAIL harness: guest kernel (guest/kernel/build.sh) not built')
            print('0 passed, 1 failed')
            sys.exit(1)
        kdir, ver = nested.debian_kernel()
        direct = nested.choose_direct(args)
        log('guest kernel %s; %s' % (gdir, 'direct KVM' if direct else
                                     'nested under Debian kernel ' + ver))
        # L1 stuck, or a guest that hangs until its session's timeout
        # (status 124): tried again, said out loud (nested.run_attempts).
        nested.run_attempts(lambda: run_l1(build, kdir, gdir, args.timeout,
                                           logpath, direct), logpath)
    text = open(logpath, 'rb').read().decode('utf-8', 'replace')
    for m in re.finditer(r'E2E-CASE (\S+) end (\d+s)', text):
        log('case %s took %s' % (m.group(1), m.group(2)))
    nested.report_and_exit(check(text), logpath)

if __name__ == '__main__':
    main()
