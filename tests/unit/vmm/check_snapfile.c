/*
 * Check tests of the snapshot state container (vmm/snap/snapfile.c) and
 * its checksum (vmm/snap/crc32c.c): a state written is read back section
 * for section; a state truncated anywhere, with any one bit flipped, of
 * another format version, vmm build, CPU vendor or CPUID table, or whose
 * RAM file is short or changed, is refused with its reason.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "snap/crc32c.h"
#include "snap/snapfile.h"

static const struct snap_identity here = {
	.build = "capsem-vmm 0.1 test",
	.vendor = { 'A', 'u', 't', 'h', 'e', 'n', 't', 'i', 'c', 'A', 'M', 'D' },
	.cpuid_sum = 0x1234abcd,
};

static const char ram[] = "guest memory, a few bytes of it";

/* A state of four sections: two vCPUs, an empty PIT, a device. */
static uint8_t *
sample(size_t *len)
{
	struct snapfile_writer w;
	uint8_t	*out;
	char	 regs1[300];

	memset(regs1, 0x5a, sizeof(regs1));
	snapw_init(&w);
	snapw_section(&w, SNAP_SEC_VCPU, 0, "vcpu zero", 9);
	snapw_section(&w, SNAP_SEC_VCPU, 1, regs1, sizeof(regs1));
	snapw_section(&w, SNAP_SEC_PIT, 0, NULL, 0);
	snapw_section(&w, SNAP_SEC_DEVICE, 3, "vsock", 5);
	ck_assert_int_eq(snapw_finish(&w, &here, sizeof(ram) - 1,
	    crc32c(0, ram, sizeof(ram) - 1), &out, len), 0);
	return out;
}

static const char *
refusal(const uint8_t *buf, size_t len, const struct snap_identity *id)
{
	static char why[SNAP_WHY_MAX];
	struct snapfile sf;

	why[0] = '\0';
	if (snapfile_parse(buf, len, id, &sf, why, sizeof(why)) == 0)
		return NULL;
	ck_assert_msg(why[0] != '\0' && strchr(why, '\n') == NULL, "%s", why);
	return why;
}

START_TEST(crc32c_check_value)
{
	unsigned char buf[1031];
	size_t	 i, n;

	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c_table(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5),
	    0xe3069283u);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (n = 0; n < 40; n++)	/* every length and alignment near 8 */
		ck_assert_uint_eq(crc32c(0, buf + n % 8, sizeof(buf) - n),
		    crc32c_table(0, buf + n % 8, sizeof(buf) - n));
}
END_TEST

START_TEST(round_trip)
{
	struct snapfile sf;
	struct snap_section sec;
	char	 why[SNAP_WHY_MAX];
	size_t	 len, cursor = 0;
	uint8_t	*buf = sample(&len);
	int	 n = 0;

	ck_assert_int_eq(len % 8, 0);
	ck_assert_int_eq(snapfile_parse(buf, len, &here, &sf, why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(sf.nsections, 4);
	ck_assert_uint_eq(sf.ram_bytes, sizeof(ram) - 1);
	ck_assert_int_eq(snapfile_find(&sf, SNAP_SEC_VCPU, 0, &sec), 1);
	ck_assert_uint_eq(sec.len, 9);
	ck_assert_int_eq(memcmp(sec.data, "vcpu zero", 9), 0);
	ck_assert_int_eq(snapfile_find(&sf, SNAP_SEC_VCPU, 1, &sec), 1);
	ck_assert_uint_eq(sec.len, 300);
	ck_assert_uint_eq(sec.data[299], 0x5a);
	ck_assert_int_eq(snapfile_find(&sf, SNAP_SEC_PIT, 0, &sec), 1);
	ck_assert_uint_eq(sec.len, 0);
	ck_assert_int_eq(snapfile_find(&sf, SNAP_SEC_DEVICE, 3, &sec), 1);
	ck_assert_int_eq(memcmp(sec.data, "vsock", 5), 0);
	ck_assert_int_eq(snapfile_find(&sf, SNAP_SEC_VCPU, 2, &sec), 0);
	ck_assert_int_eq(snapfile_find(&sf, SNAP_SEC_FSD, 0, &sec), 0);
	while (snapfile_next(&sf, &cursor, &sec) == 1)
		n++;
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(snapfile_ram_check(&sf, ram, sizeof(ram) - 1, why,
	    sizeof(why)), 0);
	free(buf);
}
END_TEST

START_TEST(truncated_anywhere)
{
	size_t	 len, cut;
	uint8_t	*buf = sample(&len);
	const char *why;

	for (cut = 0; cut < len; cut++) {
		why = refusal(buf, cut, &here);
		ck_assert_msg(why != NULL, "cut at %zu accepted", cut);
		ck_assert_msg(strncmp(why, "truncated", 9) == 0 ||
		    cut < 8, "cut at %zu: %s", cut, why);
	}
	why = refusal(buf, len - 1, &here);
	ck_assert_str_eq(why, "truncated: the header says 424 bytes of "
	    "sections, the file has 423");
	free(buf);
}
END_TEST

START_TEST(any_bit_flipped)
{
	size_t	 len, bit;
	uint8_t	*buf = sample(&len);

	for (bit = 0; bit < len * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(refusal(buf, len, &here) != NULL,
		    "bit %zu flipped: accepted", bit);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_ptr_null(refusal(buf, len, &here));
	/* in a payload: named by its section */
	buf[128 + 24 + 2] ^= 1;
	ck_assert_str_eq(refusal(buf, len, &here), "corrupt: section 0 (type "
	    "1) does not match its checksum");
	free(buf);
}
END_TEST

START_TEST(foreign_states)
{
	struct snap_identity other = here;
	size_t	 len;
	uint8_t	*buf = sample(&len);

	strcpy(other.build, "capsem-vmm 0.2");
	ck_assert_str_eq(refusal(buf, len, &other), "written by vmm build "
	    "capsem-vmm 0.1 test; this is build capsem-vmm 0.2");
	other = here;
	memcpy(other.vendor, "GenuineIntel", SNAP_VENDOR_LEN);
	ck_assert_str_eq(refusal(buf, len, &other), "made on a AuthenticAMD "
	    "CPU; this host's is GenuineIntel");
	other = here;
	other.cpuid_sum = 1;
	ck_assert_str_eq(refusal(buf, len, &other), "made with another CPUID "
	    "table (checksum 0x1234abcd; this host gives 0x00000001)");
	buf[8] = 2;	/* version: said as such, before any checksum */
	ck_assert_str_eq(refusal(buf, len, &here), "snapshot format version "
	    "2; this vmm reads version 1");
	memcpy(buf, "CAPSEMXX", 8);
	ck_assert_str_eq(refusal(buf, len, &here), "not a capsem snapshot "
	    "state (bad magic)");
	free(buf);
}
END_TEST

START_TEST(ram_file)
{
	struct snapfile sf;
	char	 why[SNAP_WHY_MAX], copy[sizeof(ram)];
	size_t	 len;
	uint8_t	*buf = sample(&len);

	ck_assert_int_eq(snapfile_parse(buf, len, &here, &sf, why,
	    sizeof(why)), 0);
	ck_assert_int_eq(snapfile_ram_check(&sf, ram, sizeof(ram) - 2, why,
	    sizeof(why)), -1);
	ck_assert_str_eq(why, "truncated: the RAM file has 30 bytes, the "
	    "state says 31");
	memcpy(copy, ram, sizeof(ram));
	copy[5] ^= 0x10;
	ck_assert_int_eq(snapfile_ram_check(&sf, copy, sizeof(ram) - 1, why,
	    sizeof(why)), -1);
	ck_assert_str_eq(why, "corrupt: the RAM file does not match its "
	    "checksum");
	free(buf);
}
END_TEST

START_TEST(writer_bounds)
{
	struct snapfile_writer w;
	uint8_t	*out;
	size_t	 len;

	snapw_init(&w);
	snapw_section(&w, 0, 0, "x", 1);	/* no such type */
	ck_assert_int_eq(snapw_finish(&w, &here, 0, 0, &out, &len), -1);
	ck_assert_ptr_null(out);
	snapw_init(&w);
	snapw_section(&w, SNAP_SEC_TYPE_MAX + 1, 0, "x", 1);
	ck_assert_int_eq(snapw_finish(&w, &here, 0, 0, &out, &len), -1);
	/* no sections: a header alone, which parses */
	snapw_init(&w);
	ck_assert_int_eq(snapw_finish(&w, &here, 0, 0, &out, &len), 0);
	ck_assert_uint_eq(len, SNAP_HEADER_SIZE);
	ck_assert_ptr_null(refusal(out, len, &here));
	free(out);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("snapfile");
	TCase	*tc = tcase_create("snapfile");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, crc32c_check_value);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, truncated_anywhere);
	tcase_add_test(tc, any_bit_flipped);
	tcase_add_test(tc, foreign_states);
	tcase_add_test(tc, ram_file);
	tcase_add_test(tc, writer_bounds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
