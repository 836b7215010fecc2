#!/usr/bin/env python3
"""A vCPU thread of capsem-vmm runs under its own narrower seccomp filter.

usage: test_vcpu_seccomp.py CAPSEM-VMM

Real processes on this host's /dev/kvm: capsem-vmm --standalone boots a
PVH kernel whose first instruction faults (no IDT: the vCPU triple-faults
at once), so only creating the VM and entering KVM_RUN must work -- this
machine's PVM does that, though it cannot run the capsem guest.
  - without the test hook the vCPU thread, under vmm_vcpu.seccomp, runs
    KVM_RUN, reports the triple fault and ends: exit 1 with the reason
    and the vCPU's state (RIP, control registers, EFER, XCR0, the held
    exception, its last exits), read on that thread under its filter;
    (the main thread made KVM_CREATE_VM, KVM_CREATE_VCPU and eventfd2
    under vmm.seccomp on the way);
  - a guest that never boots (jmp to itself), stopped by SIGTERM: the
    vCPU says where it was ("stopped before the guest was ready");
  - --test-vcpu-forbidden=kvm-create-vm / eventfd: vCPU 0 makes, right
    after narrowing, a call the main thread may make: the vmm is killed
    by SIGSYS.
Exit 77 (skip) without a /dev/kvm that can create a VM.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'vm'))
from nested import triple_fault_kernel  # noqa: E402  the same guest as tests/vm

VMM = None
KERNEL = None


def run_vmm(*extra):
    p = subprocess.run([VMM, '--standalone', '--kernel', KERNEL, '--mem', '64',
                        '--cmdline', 'x'] + list(extra),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class VcpuSeccomp(unittest.TestCase):
    def test_vcpu_runs_under_its_filter(self):
        rc, out = run_vmm('--cpus', '2')
        self.assertEqual(rc, 1, out)
        self.assertIn('guest ended: guest triple fault on vCPU 0', out)

    def test_triple_fault_report(self):
        # The vCPU's state as KVM holds it: the ud2 at the PVH entry
        # (0x1000000) in 32-bit protected mode (CR0 = PE|ET, no paging),
        # and its one exit.
        rc, out = run_vmm('--cpus', '1')
        self.assertEqual(rc, 1, out)
        self.assertIn('guest triple fault on vCPU 0: rip 0x1000000 ', out)
        self.assertIn(' cr0 0x11 ', out)
        self.assertIn(' efer 0x0 ', out)
        self.assertRegex(out, r' xcr0 0x[0-9a-f]+;')
        self.assertIn('last 1 of 1 exits: shutdown', out)

    def test_stuck_boot_report(self):
        # A guest that never says READY (a jmp to itself at the entry),
        # stopped from outside: each vCPU says where it was.
        hang = os.path.join(os.path.dirname(KERNEL), 'hang.elf')
        with open(hang, 'wb') as f:
            f.write(triple_fault_kernel(b'\xeb\xfe'))
        p = subprocess.Popen([VMM, '--standalone', '--kernel', hang, '--mem',
                              '64', '--cmdline', 'x', '--cpus', '1'],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=60)[0]
        self.assertRegex(out, r'vCPU 0: stopped before the guest was ready: '
                         r'rip 0x100000[01] ')
        self.assertIn(' cr0 0x11 ', out)

    def expect_sigsys(self, call, cpus='1'):
        rc, out = run_vmm('--cpus', cpus, '--test-vcpu-forbidden=' + call)
        self.assertEqual(rc, -signal.SIGSYS, out)
        self.assertNotIn('was not killed', out)

    def test_kvm_create_vm_kills(self):
        self.expect_sigsys('kvm-create-vm')

    def test_eventfd_kills(self):
        self.expect_sigsys('eventfd')

    def test_kvm_create_vm_kills_with_4_vcpus(self):
        self.expect_sigsys('kvm-create-vm', '4')

    def test_unknown_test_call_is_refused(self):
        rc, out = run_vmm('--test-vcpu-forbidden=open')
        self.assertEqual(rc, 1, out)
        self.assertIn('unknown call open', out)


def main():
    global VMM, KERNEL
    VMM = os.path.abspath(sys.argv[1])
    try:
        os.close(os.open('/dev/kvm', os.O_RDWR))
    except OSError as e:
        print('skip: /dev/kvm: %s' % e.strerror)
        return 77
    with tempfile.TemporaryDirectory(prefix='capsem-vcpu-seccomp-') as tmp:
        KERNEL = os.path.join(tmp, 'triple-fault.elf')
        with open(KERNEL, 'wb') as f:
            f.write(triple_fault_kernel())
        rc, out = run_vmm()
        if rc != 1 or 'triple fault' not in out:
            print('skip: this KVM does not run a vCPU to its first fault '
                  '(status %d): %s' % (rc, out.strip()[-300:]))
            return 77
        prog = unittest.main(argv=[sys.argv[0], '-v'], exit=False)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
