/*
 * capsem-mint-bench: mints per second through capsem-certd's imsg
 * interface, the way netproxy asks (MINT_REQUEST, 32 in flight).
 *
 *   capsem-mint-bench CERTD_PATH [first-seen-names [cached-requests]]
 *
 * Prints "first_seen_per_s=N" (names certd has not seen: one ECDSA
 * signature each) and "cached_per_s=N" (the same names again: cache).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "certd_harness.h"

#define WINDOW	32

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send count requests for names[i % nnames]; every answer must be a cert. */
static double
run_mints(struct imsgbuf *np, char (*names)[64], size_t nnames, size_t count)
{
	struct harness_msg msg;
	size_t sent = 0, done = 0, i;
	double t0 = now_s();

	while (done < count) {
		while (sent < count && sent - done < WINDOW) {
			i = sent % nnames;
			if (imsg_compose(np, MSG_MINT_REQUEST, (uint32_t)sent, -1,
			    names[i], strlen(names[i])) == -1) {
				perror("imsg_compose");
				exit(1);
			}
			sent++;
		}
		if (imsgbuf_flush(np) == -1 || harness_recv(np, &msg, 60000) != 1) {
			fprintf(stderr, "mint-bench: certd stopped answering\n");
			exit(1);
		}
		if (msg.type != MSG_MINT_RESPONSE) {
			fprintf(stderr, "mint-bench: refused: %s\n", msg.data);
			exit(1);
		}
		harness_msg_free(&msg);
		done++;
	}
	return (double)count / (now_s() - t0);
}

int
main(int argc, char *argv[])
{
	struct certd_proc proc;
	struct msg_ready ready;
	struct imsgbuf np;
	struct ca_rng *rng;
	struct ca_pem pem;
	char dir[] = "/tmp/capsem-mint-bench.XXXXXX", pem_path[64], key_path[64];
	char err[CA_ERR_MAX], (*names)[64];
	uint8_t leaf_key[512];
	size_t leaf_key_len, nnames = 2000, ncached = 20000, i;
	double first, cached;

	if (argc < 2) {
		fprintf(stderr, "usage: capsem-mint-bench CERTD_PATH "
		    "[first-seen-names [cached-requests]]\n");
		return 2;
	}
	if (argc > 2)
		nnames = strtoul(argv[2], NULL, 10);
	if (argc > 3)
		ncached = strtoul(argv[3], NULL, 10);
	if (nnames == 0 || nnames > 1000000 || ncached == 0) {
		fprintf(stderr, "mint-bench: bad counts\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(pem_path, sizeof(pem_path), "%s/ca.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
	if ((rng = ca_rng_new(err, sizeof(err))) == NULL ||
	    ca_generate(rng, "bench", time(NULL), &pem, err, sizeof(err)) == -1 ||
	    harness_write_file(pem_path, pem.cert, pem.cert_len) == -1 ||
	    harness_write_file(key_path, pem.key, pem.key_len) == -1) {
		fprintf(stderr, "mint-bench: making a CA: %s\n", err);
		return 1;
	}
	ca_pem_free(&pem);
	ca_rng_free(rng);

	if (certd_spawn(argv[1], &proc) == -1 || certd_hello(&proc, &ready) == -1 ||
	    certd_load_ca(&proc, pem_path, key_path, err, sizeof(err)) == -1 ||
	    certd_add_netproxy(&proc, 1, &np, leaf_key, sizeof(leaf_key),
	    &leaf_key_len) == -1) {
		fprintf(stderr, "mint-bench: starting certd failed: %s\n", err);
		return 1;
	}
	unlink(key_path);
	unlink(pem_path);
	rmdir(dir);

	if ((names = calloc(nnames, sizeof(*names))) == NULL)
		return 1;
	for (i = 0; i < nnames; i++)
		snprintf(names[i], sizeof(names[i]), "n%zu.bench.example", i);
	first = run_mints(&np, names, nnames, nnames);
	cached = run_mints(&np, names, nnames, ncached);
	printf("first_seen_names=%zu\nfirst_seen_per_s=%.0f\n", nnames, first);
	printf("cached_requests=%zu\ncached_per_s=%.0f\n", ncached, cached);

	imsgbuf_clear(&np);
	close(np.fd);
	if (certd_stop(&proc) != 0)
		fprintf(stderr, "mint-bench: certd did not exit cleanly\n");
	free(names);
	return 0;
}
