/*
 * Check tests of the line the vmm gives when KVM cannot run a vCPU
 * (vmm/kvm_exit.c), from kvm_run contents as KVM fills them.
 */
#include <linux/kvm.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_exit.h"

START_TEST(emulation_with_bytes)
{
	struct kvm_run run;
	uint64_t rip = 0xffffffff81234567ull;
	char	 buf[256];

	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run.emulation_failure.ndata = 4;
	run.emulation_failure.flags =
	    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run.emulation_failure.insn_size = 3;
	memcpy(run.emulation_failure.insn_bytes, "\x0f\x01\xd9", 3);
	kvm_exit_describe(0, &run, &rip, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vCPU 0: KVM internal error 1 (instruction "
	    "emulation failed), rip 0xffffffff81234567, instruction 0f 01 d9");
	/* a bogus size never reads past the 15 bytes */
	run.emulation_failure.insn_size = 200;
	kvm_exit_describe(0, &run, &rip, buf, sizeof(buf));
	ck_assert_str_eq(strstr(buf, ", instruction "), ", instruction 0f 01 d9 "
	    "00 00 00 00 00 00 00 00 00 00 00 00");
}
END_TEST

START_TEST(other_suberrors)
{
	struct kvm_run run;
	char	 buf[256];

	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run.internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
	run.internal.ndata = 2;
	run.internal.data[0] = 0x80000b0e;
	run.internal.data[1] = 0x31;
	kvm_exit_describe(1, &run, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vCPU 1: KVM internal error 3 (exit while "
	    "delivering an event), data 0x80000b0e 0x31");
	/* ndata past the array is bounded */
	run.internal.ndata = 1000;
	kvm_exit_describe(1, &run, NULL, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "data 0x80000b0e 0x31 0x0"));
	run.internal.suberror = 77;
	run.internal.ndata = 0;
	kvm_exit_describe(2, &run, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vCPU 2: KVM internal error 77 (unknown suberror)");
	/* a small buffer is cut, terminated */
	kvm_exit_describe(2, &run, NULL, buf, 10);
	ck_assert_str_eq(buf, "vCPU 2: K");
}
END_TEST

START_TEST(fail_entry)
{
	struct kvm_run run;
	uint64_t rip = 0x1000;
	char	 buf[256];

	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_FAIL_ENTRY;
	run.fail_entry.hardware_entry_failure_reason = 0x80000021;
	run.fail_entry.cpu = 3;
	kvm_exit_describe(0, &run, &rip, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vCPU 0: VM entry failed, hardware reason "
	    "0x80000021 on host CPU 3, rip 0x1000");
}
END_TEST

/* A #PF held while the guest triple-faults, after ten exits. */
START_TEST(triple_fault_state)
{
	struct vcpu_exit_log log;
	struct vcpu_state st;
	struct kvm_run	 run;
	char		 buf[1024];
	int		 i;

	memset(&log, 0, sizeof(log));
	memset(&run, 0, sizeof(run));
	for (i = 0; i < 9; i++) {
		run.exit_reason = KVM_EXIT_IO;
		run.io.direction = KVM_EXIT_IO_OUT;
		run.io.size = 1;
		run.io.port = (uint16_t)(0x3f8 + i);
		vcpu_exit_log_add(&log, &run);
	}
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_MMIO;
	run.mmio.phys_addr = 0xd0000050;
	run.mmio.len = 4;
	run.mmio.is_write = 1;
	vcpu_exit_log_add(&log, &run);
	memset(&st, 0, sizeof(st));
	st.have_regs = st.have_sregs = st.have_xcr0 = st.have_events = true;
	st.regs.rip = 0xffffffff81000000ULL;
	st.regs.rsp = 0x8000;
	st.regs.rflags = 0x2;
	st.sregs.cr0 = 0x80050033;
	st.sregs.cr2 = 0xdead000;
	st.sregs.cr3 = 0x1000;
	st.sregs.cr4 = 0x3406f0;
	st.sregs.efer = 0xd01;
	st.xcr0 = 0x7;
	st.events.exception.injected = 1;
	st.events.exception.nr = 14;
	st.events.exception.has_error_code = 1;
	st.events.exception.error_code = 2;
	vcpu_state_describe(&st, &log, buf, sizeof(buf));
	ck_assert_str_eq(buf, "rip 0xffffffff81000000 rsp 0x8000 rflags 0x2 "
	    "cr0 0x80050033 cr2 0xdead000 cr3 0x1000 cr4 0x3406f0 efer 0xd01 "
	    "xcr0 0x7; exception 14 (#PF) injected, error code 0x2; last 8 of "
	    "10 exits: io 0x3fa out 1, io 0x3fb out 1, io 0x3fc out 1, "
	    "io 0x3fd out 1, io 0x3fe out 1, io 0x3ff out 1, io 0x400 out 1, "
	    "mmio 0xd0000050 write 4");

	/* Nothing KVM could tell, a short buffer: still one line. */
	memset(&st, 0, sizeof(st));
	vcpu_state_describe(&st, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "registers unknown");
	st.have_regs = true;
	vcpu_state_describe(&st, &log, buf, 16);
	ck_assert_str_eq(buf, "rip 0x0 rsp 0x0");
	ck_assert_str_eq(x86_exception_name(8), "#DF");
	ck_assert_str_eq(x86_exception_name(200), "#?");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("kvm_exit");
	TCase	*tc = tcase_create("describe");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, emulation_with_bytes);
	tcase_add_test(tc, other_suberrors);
	tcase_add_test(tc, fail_entry);
	tcase_add_test(tc, triple_fault_state);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
