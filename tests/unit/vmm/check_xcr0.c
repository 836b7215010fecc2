/*
 * Check tests of the XCR0 a new vCPU starts with (vmm/x86/xcr0.c), from
 * CPUID tables as KVM_GET_SUPPORTED_CPUID gives them.  The first is the
 * one recorded on this project's test machine (tests/agent-image's
 * kvm-cpuid in the nested L1: qemu -cpu EPYC under TCG); the others are
 * written from the SDM's definitions of CPUID 1 ECX and 0xd.0 EAX/EDX for
 * the hosts our users have: AVX-512 with PKRU (Zen 4, Ice Lake server),
 * the same plus AMX (Sapphire Rapids), and broken or partial offers.
 */
#include <linux/kvm.h>

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "x86/xcr0.h"

#define XSAVE	(1u << 26)

/* A two-entry table: CPUID 1 (ECX) and 0xd.0 (EAX, EDX), in that order
 * or the other. */
static uint64_t
initial(uint32_t ecx1, uint32_t eax_d0, uint32_t edx_d0, bool d_first)
{
	struct kvm_cpuid_entry2 e[3];

	memset(e, 0, sizeof(e));
	e[d_first ? 1 : 0].function = 1;
	e[d_first ? 1 : 0].ecx = ecx1;
	e[d_first ? 0 : 1].function = 0xd;
	e[d_first ? 0 : 1].index = 0;
	e[d_first ? 0 : 1].eax = eax_d0;
	e[d_first ? 0 : 1].edx = edx_d0;
	/* 0xd.1 (XSAVEOPT, XSAVEC, XSS) never counts */
	e[2].function = 0xd;
	e[2].index = 1;
	e[2].eax = 0xffffffffu;
	e[2].edx = 0xffffffffu;
	return xcr0_initial(e, 3);
}

START_TEST(recorded_nested_epyc)
{
	/* KVM-CPUID kvm 0x1.0 ecx=0x76f83203, 0xd.0 eax=0x7 edx=0 */
	ck_assert_uint_eq(initial(0x76f83203u, 0x7, 0, false), 0x7);
}
END_TEST

START_TEST(avx512_and_pkru)
{
	ck_assert_uint_eq(initial(XSAVE, 0x2e7, 0, false), 0x2e7);
	ck_assert_uint_eq(initial(XSAVE, 0x2e7, 0, true), 0x2e7);
}
END_TEST

START_TEST(amx_is_never_set)
{
	/* x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU XTILECFG XTILEDATA */
	uint64_t x = initial(XSAVE, 0x602e7, 0, false);

	ck_assert_uint_eq(x, 0x2e7);
	ck_assert_uint_eq(x & XCR0_AMX, 0);
}
END_TEST

START_TEST(avx512_all_or_none)
{
	/* ZMM_Hi256 alone, or opmask and Hi16 without it: none of them */
	ck_assert_uint_eq(initial(XSAVE, 0x247, 0, false), 0x207);
	ck_assert_uint_eq(initial(XSAVE, 0x2a7, 0, false), 0x207);
	/* AVX-512 offered without AVX: neither */
	ck_assert_uint_eq(initial(XSAVE, 0xe3, 0, false), 0x3);
}
END_TEST

START_TEST(unknown_and_legacy_components_dropped)
{
	/* MPX BNDREGS/BNDCSR (bits 3, 4), PT (8, supervisor), CET, bit 19,
	 * and AMD's LWP (62, EDX bit 30) */
	ck_assert_uint_eq(initial(XSAVE, 0x8011f | 0x1800, 1u << 30, false),
	    0x7);
}
END_TEST

START_TEST(no_xsave_no_xcr0)
{
	ck_assert_uint_eq(initial(0, 0x2e7, 0, false), 0);
	/* XSAVE without x87 and SSE in 0xd.0: a table not to trust */
	ck_assert_uint_eq(initial(XSAVE, 0x5, 0, false), 0);
	ck_assert_uint_eq(initial(XSAVE, 0, 0, false), 0);
	ck_assert_uint_eq(xcr0_initial(NULL, 0), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("xcr0");
	TCase	*tc = tcase_create("initial");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, recorded_nested_epyc);
	tcase_add_test(tc, avx512_and_pkru);
	tcase_add_test(tc, amx_is_never_set);
	tcase_add_test(tc, avx512_all_or_none);
	tcase_add_test(tc, unknown_and_legacy_components_dropped);
	tcase_add_test(tc, no_xsave_no_xcr0);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
