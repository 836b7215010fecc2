#!/usr/bin/env python3
"""The agent image, tested as a user runs it (meson suite 'agent-image').

The built image (default ~/.capsem/images/default: vmlinux, initrd.img,
rootfs.erofs, manifest.json; CAPSEM_AGENT_IMAGE=DIR names another) boots
with the real capsemctl, certd, policyd, netproxy and vmm:

    capsemctl start --kernel IMG/vmlinux --initrd IMG/initrd.img
        --disk IMG/rootfs.erofs --user agent --mem 2048 -- command

1. the guest CPU (avx, xsave) and `claude|gemini|codex --version`, each in
   its own session, print what the manifest's "reports" says;
2. each agent's first HTTPS request (a placeholder API key, no internet)
   reaches netproxy and is in the session's audit.jsonl;
2b. each agent completes a turn (`claude -p`, `gemini -p`, `codex exec`)
   through the real proxy against fake-model-api (tests/agent-image/
   fake_model_api.c, 127.0.0.3 in L1; [upstream] resolve and ca_file): it
   prints the fake's answer, the fake got the real key the proxy added,
   the guest never held it, the audit has the call;
3. nothing else gets out: raw-IP connections and UDP fail and never reach
   the catchers listening on those addresses.

Where the host probe (nested.choose_direct) says this host can run the
guest, the sessions run directly.  Elsewhere they run in
the nested L1 guest of tests/vm/nested.py (qemu TCG, -cpu EPYC, kvm_amd),
with the image packed into L1's initramfs (a second cpio appended, so the
775 MB root file system is not copied on this side) and -m 5G (L1 keeps
the image in its tmpfs and gives 2 GiB to the guest).

    agent_image.py --build-dir BUILD [--timeout S] [--log FILE] [--nested]
                   [--check-only] [--compare-vmm VMM]

--compare-vmm boots the root CPU probe (dmesg, raw CPUID, XCR0) a second
time with another capsem-vmm binary (e.g. one without the XCR0 setup of
vmm/kvm.c), for diagnosis.

Prints one "PASS name" / "FAIL name: why" line per check, then
"N passed, N failed"; exit status 0 only if nothing failed, 77 (skip) if
there is no built image.
"""
import base64
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
import nested  # noqa: E402  (debian_kernel, make_cpio, copy_libs, run_l1_watched)
import e2e  # noqa: E402  (copy_bin, files_of, rc_of, guest_sections, audit_lines)

SKIP = 77
IMAGE_FILES = ('vmlinux', 'initrd.img', 'bzImage', 'manifest.json')
L1_MEM = os.environ.get('CAPSEM_AGENT_L1_MEM', '5G')
# qemu 7.2 TCG cannot do xsavec (it warns and drops it); saying so keeps
# the log clean.  avx, avx2, fma, f16c, bmi1/2, movbe, xsave, xsaveopt of
# EPYC are all emulated.
L1_CPU = 'EPYC,-xsavec'
AGENTS = {
    # agent: the API host its requests go to
    'claude': 'api.anthropic.com',
    'gemini': 'generativelanguage.googleapis.com',
    'codex': 'api.openai.com',
}
# where the model API request of each agent goes (l1-run.sh stops the
# session when it is audited); codex opens it as a WebSocket (GET, Upgrade)
API_PATHS = {
    'claude': '/v1/messages',
    'gemini': '/v1beta/models/',
    'codex': '/v1/responses',
}
USER_TOML = '''# user.toml of the agent-image tests (tests/agent-image/agent_image.py)
[network]
default = "deny"
allow = ["api.anthropic.com", "generativelanguage.googleapis.com",
    "api.openai.com", "chatgpt.com"]
'''

# user.toml of the turn cases (l1-run.sh 2b): the API hosts go to
# fake-model-api on 127.0.0.3:8443, whose CA is trusted; the proxy adds
# the real keys (L1's ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENAI_API_KEY).
USER_TURN_TOML = USER_TOML + '''private_addresses = true

[credentials."api.anthropic.com"]
header = "x-api-key"
env = "ANTHROPIC_API_KEY"

[credentials."generativelanguage.googleapis.com"]
header = "x-goog-api-key"
env = "GEMINI_API_KEY"

[credentials."api.openai.com"]
header = "authorization"
env = "OPENAI_API_KEY"

[upstream]
resolve = ["api.anthropic.com:443:127.0.0.3:8443",
    "generativelanguage.googleapis.com:443:127.0.0.3:8443",
    "api.openai.com:443:127.0.0.3:8443"]
ca_file = "@PKI@/testca.pem"
'''
# what fake-model-api answers, and the real keys l1-run.sh gives the proxy
TURN_ANSWER = 'capsem-fake-model-answer-4711'
REAL_KEYS = {
    'claude': 'sk-ant-real-turn-key-5b1e9c',
    'gemini': 'AIza-real-turn-key-5b1e9c',
    'codex': 'Bearer sk-real-turn-key-5b1e9c',
}


def log(msg):
    print('agent-image: ' + msg, file=sys.stderr, flush=True)


def image_dir():
    if os.environ.get('CAPSEM_AGENT_IMAGE'):
        return os.environ['CAPSEM_AGENT_IMAGE']
    home = os.environ.get('CAPSEM_HOME') or os.path.expanduser('~/.capsem')
    return os.path.join(home, 'images', 'default')


def load_image(d):
    """(manifest, rootfs path), or exit 77 saying why."""
    def skip(why):
        print('SKIP agent image: %s (build it with guest/image/build-agent-image.sh '
              'or capsemctl image build; CAPSEM_AGENT_IMAGE=DIR names another)' % why)
        sys.exit(SKIP)
    for f in IMAGE_FILES:
        if not os.path.isfile(os.path.join(d, f)):
            skip('%s has no %s' % (d, f))
    try:
        man = json.load(open(os.path.join(d, 'manifest.json')))
    except ValueError as e:
        skip('%s/manifest.json: %s' % (d, e))
    rootfs = os.path.join(d, man.get('rootfs', 'rootfs.erofs'))
    if not os.path.isfile(rootfs):
        skip('%s has no %s' % (d, os.path.basename(rootfs)))
    if man.get('kind') != 'agent' or not all(a in man.get('agents', {}) for a in AGENTS):
        skip('%s is not an agent image with %s' % (d, ', '.join(AGENTS)))
    return man, rootfs


def build_l1_root(build, root, kdir, img, man, rootfs, in_l1):
    vm = e2e.l1_root_base(build, root, kdir, os.path.join(HERE, 'l1-run.sh'),
                          ['tests/e2e/e2e-catcher',
                           'tests/agent-image/kvm-cpuid',
                           'tests/agent-image/fake-model-api'])
    with open(os.path.join(vm, 'user.toml'), 'w') as f:
        f.write(USER_TOML)
    with open(os.path.join(vm, 'user-turn.toml'), 'w') as f:
        f.write(USER_TURN_TOML)
    e2e.make_pki(os.path.join(vm, 'pki'), tuple(AGENTS.values()))
    with open(os.path.join(HERE, 'guest_cpuid.py'), 'rb') as src, \
            open(os.path.join(vm, 'guest_cpuid.b64'), 'w') as f:
        f.write(base64.b64encode(src.read()).decode())
    if in_l1:
        os.makedirs(os.path.join(vm, 'image'))
        for f in IMAGE_FILES:
            shutil.copy(os.path.join(img, f), os.path.join(vm, 'image', f))
        # the root file system comes in a cpio of its own, see append_rootfs


def append_rootfs(rootfs, cpio_path, work):
    """Append a newc archive holding vm/image/rootfs.erofs to cpio_path
    (the kernel unpacks concatenated archives), read through a symlink."""
    d = os.path.join(work, 'rootfs-cpio')
    os.makedirs(os.path.join(d, 'vm', 'image'))
    os.symlink(os.path.realpath(rootfs), os.path.join(d, 'vm', 'image', 'rootfs.erofs'))
    with open(cpio_path, 'ab') as out:
        subprocess.run(['cpio', '-o', '-H', 'newc', '-L', '--quiet', '-R', '0:0'],
                       cwd=d, input=b'vm/image/rootfs.erofs\n', stdout=out,
                       check=True)


def run_l1(build, kdir, img, man, rootfs, timeout, logpath, direct, compare_vmm=None):
    work = tempfile.mkdtemp(prefix='capsem-agent-')
    try:
        root = os.path.join(work, 'root')
        build_l1_root(build, root, kdir, img, man, rootfs, not direct)
        if compare_vmm:
            cmp_dir = os.path.join(root, 'vm', 'libexec-compare')
            shutil.copytree(os.path.join(root, 'vm', 'libexec'), cmp_dir)
            shutil.copy(compare_vmm, os.path.join(cmp_dir, 'capsem-vmm'))
        if direct:
            e2e.run_direct(root, [img], timeout, logpath)
            return None
        initrd = os.path.join(work, 'l1.cpio')
        nested.make_cpio(root, initrd)
        append_rootfs(rootfs, initrd, work)
        # an agent's first start (gemini: ~50 s) prints nothing meanwhile
        return nested.boot_l1(kdir, initrd, logpath, timeout, L1_CPU, L1_MEM,
                              stall=420)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- reading the log ---------------------------------------------------------

def times_of(text):
    out = {}
    for m in re.finditer(r'^AGENT-TIME (\S+) ([\d.]+) ([\d.]+)$', text, re.M):
        out[m.group(1)] = float(m.group(3)) - float(m.group(2))
    return out


def first_line_matching(text, pattern):
    m = re.search(pattern, text, re.M)
    return m.group(1).strip() if m else ''


def check(text, man):
    results = []

    def expect(name, ok, why=''):
        results.append((name, bool(ok), why))

    text = text.replace('\r', '')
    f = e2e.files_of(text)
    rc = lambda case: e2e.rc_of(text, case)  # noqa: E731
    times = times_of(text)
    expect('harness: /dev/kvm in the test machine', 'L1: no /dev/kvm' not in text,
           'no /dev/kvm')
    expect('harness: all sessions ran', 'CAPSEM-RUN-END' in text, 'run did not finish')
    expect('harness: capsemctl ca init', rc('ca-init') == 0, f.get('ca-init', '')[-300:])

    # 1. the guest CPU and the versions
    out = f.get('cpu-out', '')
    flags = first_line_matching(out, r'^GUEST-FLAGS (.*)$').split()
    expect('boot: the image boots as user agent (%.0f s session)' % times.get('cpu', 0),
           rc('cpu') == 0 and 'GUEST-USER agent /home/agent' in out,
           'status %s; %s' % (rc('cpu'), (out + f.get('cpu-err', ''))[-400:]))
    for flag in ('avx', 'avx2', 'xsave'):
        expect('cpu: the guest has %s' % flag, flag in flags,
               'guest flags: %s' % (' '.join(flags) or 'none reported'))
    for agent in AGENTS:
        case = agent + '-version'
        want = man['agents'][agent]['reports']
        got = f.get(case + '-out', '').strip()
        expect('`capsemctl start --image DIR %s --version` prints "%s" and '
               'exits 0 (%.0f s session)' % (agent, want, times.get(case, 0)),
            rc(case) == 0 and want in [ln.strip() for ln in got.split('\n')],
            'status %s; out %r; err %s' % (rc(case), got[-300:],
                                          f.get(case + '-err', '')[-300:]))

    # 2. each agent's first requests, in its session's audit log
    for agent, host in AGENTS.items():
        case = agent + '-request'
        audit = e2e.audit_lines(f.get(case + '-audit', ''))
        reqs = [a for a in audit if a.get('event') == 'request' and a.get('method')]
        first = reqs[0] if reqs else {}
        expect('%s: its first HTTPS request (%s https://%s%s) went through '
               'the proxy, TLS with the session CA, and is audited' % (
                   agent, first.get('method', '?'), first.get('host', '?'),
                   first.get('path', '')), reqs,
               'status %s; %d audit lines: %s; out %s' % (
                   rc(case), len(audit), ' | '.join(sorted(set(
                       '%s %s %s' % (a.get('event'), a.get('host'), a.get('verdict'))
                       for a in audit)))[:300],
                   (f.get(case + '-out', '') + f.get(case + '-err', ''))[-300:]))
        expect('%s: its requests were allowed by the policy' % agent,
               reqs and all(a.get('verdict') == 'allow' for a in reqs),
               str([a for a in reqs if a.get('verdict') != 'allow'][:1])[:300])
        api = [a for a in reqs if a.get('host') == host and
               a.get('path', '').startswith(API_PATHS[agent])]
        expect('%s: its model API request (%s https://%s%s...) is audited' % (
            agent, api[0].get('method') if api else '', host, API_PATHS[agent]), api,
            'requests: %s' % ' '.join(sorted(set('%s %s%s' % (
                a.get('method'), a.get('host'), a.get('path')) for a in reqs)))[:300])

    # 2b. a full turn per agent through the real proxy, a fake model API
    fake = f.get('fake-log', '')
    for agent, host in AGENTS.items():
        check_turn(expect, f, rc, times, fake, agent, host, agent + '-turn')
    check_turn(expect, f, rc, times, fake, 'claude', AGENTS['claude'],
               'claude-turn-agent')

    # 3. nothing else gets out
    g = e2e.guest_sections(f.get('escape-out', '').replace('\r', ''))
    for name in ('raw-ip-443', 'raw-ip-80', 'raw-ip-22', 'udp-8888-53', 'denied-host'):
        body, grc = g.get(name, ('(no section)', None))
        code = re.search(r'HTTP=(\d{3})', body)
        if name == 'udp-8888-53':
            # sending works (nat sends it to capsem-dns, which drops a
            # datagram that is no DNS message): only the catcher can tell
            expect('escape: %s ran' % name, grc is not None, body[-300:])
        elif name == 'raw-ip-22':
            expect('escape: %s fails' % name, grc not in (None, 0),
                   'rc=%s %s' % (grc, body[-300:]))
        else:
            expect('escape: %s gets no answer from anywhere' % name,
                   grc is not None and (grc != 0 or (code and code.group(1) != '200')),
                   'rc=%s %s' % (grc, body[-300:]))
    base = re.search(r'E2E-CATCHER-BASELINE (\d+)', text)
    catches = [ln for ln in f.get('catcher', '').split('\n') if ln.startswith('CATCH ')]
    escaped = catches[int(base.group(1)):] if base else catches
    expect('escape: the catchers saw their control connection',
           base and int(base.group(1)) >= 1, 'baseline %s' % (base.group(1) if base else '?'))
    expect('escape: nothing reached the catchers (203.0.113.7, 8.8.8.8)',
           'catcher' in f and not escaped, ' | '.join(escaped)[:400] or 'no log')
    eaudit = e2e.audit_lines(f.get('escape-audit', ''))
    expect('escape: the denied name example.com is in the audit log',
           any(a.get('host', '').rstrip('.') == 'example.com' and a.get('verdict') == 'deny'
               for a in eaudit), '%d lines' % len(eaudit))
    return results


def check_turn(expect, f, rc, times, fake, agent, host, case):
    """One agent turn (l1-run.sh 2b): the agent printed the fake model's
    answer; the fake got the model API call with the real key and never
    the placeholder; the guest held no real key; the audit has the call,
    allowed, 200."""
    out = f.get(case + '-out', '')
    why = 'status %s; out %s; err %s' % (rc(case), out[-300:],
                                        f.get(case + '-err', '')[-300:])
    shell = not case.endswith('-agent')
    expect('%s: one turn through the proxy: the agent prints the model\'s '
           'answer%s (%.0f s session)' % (case, ' and exits 0' if shell else '',
                                          times.get(case, 0)),
           rc(case) == 0 and TURN_ANSWER in out and
           (not shell or 'TURN-RC 0' in out), why)
    calls = [ln for ln in fake.split('\n')
             if ln.startswith('FAKE POST ' + API_PATHS[agent])]
    expect('%s: the fake model API got the call with the real key from '
           '[credentials], never a placeholder' % case,
           calls and all(ln.endswith(' key=' + REAL_KEYS[agent])
                         for ln in calls),
           ' | '.join(calls)[-400:] or 'no call; fake log: ' + fake[-300:])
    if shell:
        expect('%s: the guest never held the real key (environment, files)'
               % case, 'KEY-IN-ENV 0' in out and 'KEY-IN-FILES 0' in out, why)
    audit = e2e.audit_lines(f.get(case + '-audit', ''))
    api = [a for a in audit if a.get('event') == 'request' and
           a.get('host') == host and
           a.get('path', '').startswith(API_PATHS[agent])]
    # a request has its verdict line and then its outcome line (status);
    # codex's WebSocket attempts (GET, 404) come before its POST
    posted = [a for a in api if a.get('method') == 'POST' and 'status' in a]
    expect('%s: the audit has the model API call, allowed, status 200' % case,
           posted and all(a.get('status') == 200 for a in posted) and
           all(a.get('verdict') == 'allow' for a in api),
           str(api[-2:])[:400] or '%d audit lines' % len(audit))


def report(text):
    """Numbers for the log: session times, guest CPU, audit summary."""
    text = text.replace('\r', '')
    f = e2e.files_of(text)
    for name, secs in times_of(text).items():
        log('session %s took %.1f s' % (name, secs))
    for m in re.finditer(r'^AGENT-SEEN (\S+) (\S+) ([\d.]+)$', text, re.M):
        log('%s: %s request audited at L1 uptime %s s' % m.groups())
    for key in ('AGENT-L1-CPU', 'AGENT-L1-FLAGS', 'AGENT-L1-MEM'):
        log('%s %s' % (key, first_line_matching(text, r'^%s (.*)$' % key)))
    out = f.get('cpu-out', '')
    for key in ('GUEST-UPTIME', 'GUEST-FLAGS', 'GUEST-XSTATE', 'GUEST-CPUS'):
        log('%s %s' % (key, first_line_matching(out, r'^%s ?(.*)$' % key)))
    for m in re.finditer(r'^KVM-CPUID .*$', text, re.M):
        log('L1 ' + m.group(0))
    for case in ('cpu-root', 'cpu-root-compare'):
        for line in f.get(case + '-out', '').split('\n'):
            if line.strip() and not re.match(r'^[0-9a-f]{8}$', line.strip()):
                log('%s: %s' % (case, line.strip()))
    for agent in AGENTS:
        seen = {}
        for a in e2e.audit_lines(f.get(agent + '-request-audit', '')):
            key = '%s %s %s %s %s %s %s' % (
                a.get('event'), a.get('verdict'), a.get('host'), a.get('method', '-'),
                a.get('path', '-'), a.get('status', '-'), a.get('reason', ''))
            seen[key] = seen.get(key, 0) + 1
        for key, n in seen.items():
            log('%s audit: %dx %s' % (agent, n, key))


def main():
    ap = nested.harness_args(2400)
    ap.add_argument('--check-only', action='store_true',
                    help='only check an existing --log')
    ap.add_argument('--compare-vmm', default=None,
                    help='a second capsem-vmm: also boot the guest CPU probe with it')
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    logpath = nested.harness_log(args, 'tests', 'agent-image',
                                 'agent-image-run.log')
    img = image_dir()
    man, rootfs = load_image(img)
    log('image %s: %s' % (img, man.get('pins', '')))
    if not args.check_only:
        nested.require_tools(('/bin/busybox',), ('cpio', 'qemu-system-x86_64'))
        kdir, ver = nested.debian_kernel()
        direct = nested.choose_direct(args)
        log('direct KVM' if direct else 'nested under Debian kernel ' + ver)
        # an L1 run is ~5 min here: one retry at most
        nested.run_attempts(lambda: run_l1(
            build, kdir, img, man, rootfs, args.timeout, logpath, direct,
            args.compare_vmm), logpath, retries=1)
    text = open(logpath, 'rb').read().decode('utf-8', 'replace')
    report(text)
    nested.report_and_exit(check(text, man), logpath)

if __name__ == '__main__':
    main()
