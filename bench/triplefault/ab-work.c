/*
 * ab-work.c: the guest workload of the triple-fault A/B (bench/triplefault).
 * ab.py builds it (gcc -O2 -Wl,-z,now, dynamic: glibc) and puts the same
 * binary in the capsem test image (/usr/local/bin/ab-work, with the image's
 * glibc) and in the qemu guest's busybox initrd (with the same libraries).
 *
 *   ab-work info            one AB-CPU line: CPUID (XSAVE, OSXSAVE, AVX,
 *                           AVX2), XCR0 (xgetbv 0) and /proc/cpuinfo's flags
 *   ab-work avx [ROUNDS]    AB-CPU, then two processes (so that one vCPU
 *   ab-work noavx [ROUNDS]  switches between them and saves/restores their
 *                           FPU state) each run ROUNDS rounds of: glibc
 *                           memcpy/memcmp of 2 KiB blocks (below the rep
 *                           movsb threshold: the vector loop), strlen of
 *                           1 MiB, and a multiply/xor hash over 1 MiB; every
 *                           result is checked against a value computed the
 *                           plain way at the start.  "avx" hashes with AVX2
 *                           intrinsics and leaves glibc's ifuncs alone (AVX2
 *                           where XCR0 allows it); "noavx" re-executes itself
 *                           with GLIBC_TUNABLES hiding AVX/AVX2/AVX-512 from
 *                           glibc and hashes with SSE2 only: no AVX
 *                           instruction in user space, XCR0 as the kernel
 *                           set it.  Ends with "AB-END <mode> ok" or
 *                           "AB-END <mode> mismatch ...".
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#define BIG	(1u << 20)
#define BLK	2048
#define NOAVX_TUNABLES \
	"glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW," \
	"-AVX_Fast_Unaligned_Load,-FMA,-BMI2"

static int avx_usable;

static unsigned long long
xcr0(int *ok)
{
	unsigned a, b, c, d;

	*ok = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))
		return 0;
	*ok = 1;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return ((unsigned long long)d << 32) | a;
}

static int
cpuinfo_has(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096], pat[64];
	int found = -1;

	if (f == NULL)
		return -1;
	snprintf(pat, sizeof(pat), " %s ", flag);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		line[strcspn(line, "\n")] = ' ';
		found = strstr(line, pat) != NULL;
		break;
	}
	fclose(f);
	return found;
}

static void
info(void)
{
	unsigned a, b, c = 0, d, a7, ebx7 = 0, c7, d7;
	int ok;
	unsigned long long x;

	if (__get_cpuid_max(0, NULL) >= 7)
		__cpuid_count(7, 0, a7, ebx7, c7, d7);
	__get_cpuid(1, &a, &b, &c, &d);
	x = xcr0(&ok);
	avx_usable = ok && (c & (1u << 28)) && (ebx7 & (1u << 5)) &&
	    (x & 6) == 6;
	printf("AB-CPU cpuid_xsave=%d cpuid_osxsave=%d cpuid_avx=%d "
	    "cpuid_avx2=%d xcr0=%s0x%llx cpuinfo_xsave=%d cpuinfo_avx=%d "
	    "cpuinfo_avx2=%d avx2_usable=%d\n",
	    !!(c & (1u << 26)), !!(c & (1u << 27)), !!(c & (1u << 28)),
	    !!(ebx7 & (1u << 5)), ok ? "" : "n/a:", x, cpuinfo_has("xsave"),
	    cpuinfo_has("avx"), cpuinfo_has("avx2"), avx_usable);
	fflush(stdout);
}

static uint64_t
hash_plain(const uint32_t *p, size_t n)
{
	uint32_t lane[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t h = 0;
	size_t i;
	int k;

	for (i = 0; i < n; i += 8)
		for (k = 0; k < 8; k++)
			lane[k] = (lane[k] * 2654435761u) ^ p[i + k];
	for (k = 0; k < 8; k++)
		h = h * 31 + lane[k];
	return h;
}

__attribute__((target("avx2"))) static uint64_t
hash_avx2(const uint32_t *p, size_t n)
{
	__m256i lane = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8);
	__m256i mul = _mm256_set1_epi32((int)2654435761u);
	uint32_t out[8];
	uint64_t h = 0;
	size_t i;
	int k;

	for (i = 0; i < n; i += 8)
		lane = _mm256_xor_si256(_mm256_mullo_epi32(lane, mul),
		    _mm256_loadu_si256((const __m256i *)(p + i)));
	_mm256_storeu_si256((__m256i *)out, lane);
	for (k = 0; k < 8; k++)
		h = h * 31 + out[k];
	return h;
}

static uint64_t
hash_sse2(const uint32_t *p, size_t n)
{
	/* two 4-lane halves; SSE2 has no 32-bit mullo: even/odd products */
	__m128i lo = _mm_setr_epi32(1, 2, 3, 4), hi = _mm_setr_epi32(5, 6, 7, 8);
	__m128i mul = _mm_set1_epi32((int)2654435761u);
	uint32_t out[8];
	uint64_t h = 0;
	size_t i;
	int k;

	for (i = 0; i < n; i += 8) {
		__m128i v[2] = { lo, hi };
		for (k = 0; k < 2; k++) {
			__m128i e = _mm_mul_epu32(v[k], mul);
			__m128i o = _mm_mul_epu32(_mm_srli_epi64(v[k], 32),
			    _mm_srli_epi64(mul, 32));
			__m128i m = _mm_unpacklo_epi32(
			    _mm_shuffle_epi32(e, 0x08), _mm_shuffle_epi32(o, 0x08));
			v[k] = _mm_xor_si128(m,
			    _mm_loadu_si128((const __m128i *)(p + i + 4 * k)));
		}
		lo = v[0];
		hi = v[1];
	}
	_mm_storeu_si128((__m128i *)out, lo);
	_mm_storeu_si128((__m128i *)(out + 4), hi);
	for (k = 0; k < 8; k++)
		h = h * 31 + out[k];
	return h;
}

static int
work(const char *mode, int rounds, int who)
{
	uint32_t *src = malloc(BIG), *dst = malloc(BIG);
	char *str = malloc(BIG + 1);
	uint64_t want, got;
	size_t i, off;
	int r, bad = 0, avx = strcmp(mode, "avx") == 0 && avx_usable;

	if (src == NULL || dst == NULL || str == NULL)
		return 1;
	for (i = 0; i < BIG / 4; i++)
		src[i] = (uint32_t)(i * 0x9e3779b9u + who);
	for (i = 0; i < BIG; i++)
		str[i] = (char)('a' + i % 26);
	str[BIG] = 0;
	want = hash_plain(src, BIG / 4);
	for (r = 0; r < rounds && bad == 0; r++) {
		for (off = 0; off < BIG; off += BLK)
			memcpy((char *)dst + off, (char *)src + off, BLK);
		for (off = 0; off < BIG; off += BLK)
			if (memcmp((char *)dst + off, (char *)src + off, BLK))
				bad |= 1;
		if (strlen(str) != BIG)
			bad |= 2;
		got = avx ? hash_avx2(dst, BIG / 4) : hash_sse2(dst, BIG / 4);
		if (got != want)
			bad |= 4;
		sched_yield();
	}
	if (bad)
		printf("AB-WORK %s proc %d round %d mismatch 0x%x\n", mode, who,
		    r, bad);
	else
		printf("AB-WORK %s proc %d %d rounds ok (hash %s)\n", mode, who,
		    rounds, avx ? "avx2" : "sse2");
	fflush(stdout);
	return bad != 0;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "info";
	int rounds = argc > 2 ? atoi(argv[2]) : 40, st, bad = 0, i;
	pid_t pid[2];

	if (strcmp(mode, "noavx") == 0 && getenv("GLIBC_TUNABLES") == NULL) {
		setenv("GLIBC_TUNABLES", NOAVX_TUNABLES, 1);
		execv("/proc/self/exe", argv);
		perror("ab-work: re-exec");
		return 1;
	}
	info();
	if (strcmp(mode, "info") == 0)
		return 0;
	if (strcmp(mode, "avx") != 0 && strcmp(mode, "noavx") != 0) {
		fprintf(stderr, "usage: ab-work info|avx|noavx [ROUNDS]\n");
		return 2;
	}
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0)
			_exit(work(mode, rounds, i));
		if (pid[i] == -1)
			bad = 1;
	}
	for (i = 0; i < 2; i++)
		if (pid[i] > 0 && (waitpid(pid[i], &st, 0) == -1 ||
		    !WIFEXITED(st) || WEXITSTATUS(st) != 0))
			bad = 1;
	printf("AB-END %s %s\n", mode, bad ? "mismatch" : "ok");
	return bad;
}
