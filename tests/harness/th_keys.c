/*
 * th_keys.c - OpenPGP keys that must be refused, a test CA for TLS, and
 * the tests' WKD/VKS server (tests/keyserver) (harness.h).
 *
 * Keys are made with gpg itself in a homedir of the test: an expired one
 * (made with --faked-system-time in 2000, valid one year) and a revoked
 * one (gpg's own revocation certificate, its guard colon removed,
 * imported). The CA and the server certificate are made with the openssl
 * command at test time: nothing secret is kept in the repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "harness.h"

/* th_gpg_expired - a key for address that expired long ago; gpg's exit status */
int th_gpg_expired(const char *home, const char *address)
{
	char uid[300];

	snprintf(uid, sizeof(uid), "<%s>", address);
	return th_gpg(home, NULL, "--faked-system-time", "20000101T000000",
	    "--quick-gen-key", uid, "future-default", "default", "1y", (char *)NULL);
}

/* th_gpg_revoked - a key for address, revoked; fails the test on trouble */
void th_gpg_revoked(const char *home, const char *address)
{
	char fpr[64], path[512];
	char *rev, *guard;
	FILE *fp;

	assert_int_equal(th_gpg_keygen(home, NULL, address), 0);
	th_gpg_fpr(home, address, fpr, sizeof(fpr));
	snprintf(path, sizeof(path), "%s/openpgp-revocs.d/%s.rev", home, fpr);
	assert_non_null(rev = th_read_file(path, NULL));
	assert_non_null(guard = strstr(rev, ":-----BEGIN PGP PUBLIC KEY BLOCK"));
	snprintf(path, sizeof(path), "%s/rev-%s.asc", home, fpr);
	assert_non_null(fp = fopen(path, "w"));
	fputs(guard + 1, fp);
	fclose(fp);
	free(rev);
	assert_int_equal(th_gpg(home, NULL, "--import", path, (char *)NULL), 0);
}

/* openssl - run the openssl command with args; fails the test if it fails */
static void openssl(const char *dir, ...)
{
	const char *argv[32] = { "openssl" };
	char log[512];
	const char *a;
	int n = 1;
	va_list ap;

	va_start(ap, dir);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/openssl.out", dir);
	assert_int_equal(th_run(argv, NULL, log), 0);
}

/* th_tls_make - dir/ca.pem, dir/server.pem (chain), dir/server.key for hosts */
void th_tls_make(const char *dir, const char *const *hosts, size_t n)
{
	char ca[512], cakey[512], key[512], csr[512], crt[512], ext[512], chain[512];
	char san[4096] = "subjectAltName=";
	FILE *fp;

	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(csr, sizeof(csr), "%s/server.csr", dir);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(ext, sizeof(ext), "%s/server.ext", dir);
	snprintf(chain, sizeof(chain), "%s/server.pem", dir);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(san);
		snprintf(san + l, sizeof(san) - l, "%sDNS:%s", i ? "," : "", hosts[i]);
	}
	assert_non_null(fp = fopen(ext, "w"));
	fprintf(fp, "%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n", san);
	fclose(fp);
	openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes", "-keyout", cakey, "-out", ca, "-days", "2", "-subj", "/CN=Postern test CA",
	    (char *)NULL);
	openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
	    "-keyout", key, "-out", csr, "-subj", "/CN=postern-keyserver", (char *)NULL);
	openssl(dir, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
	    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext, (char *)NULL);
	/* the chain file: the server's certificate (the CA is the client's) */
	char *c = th_read_file(crt, NULL);
	assert_non_null(c);
	assert_non_null(fp = fopen(chain, "w"));
	fputs(c, fp);
	fclose(fp);
	free(c);
}

/* th_keyserver_start - postern-keyserver on port, certificates from tls_dir, keys under dir */
pid_t th_keyserver_start(int port, const char *tls_dir, const char *dir)
{
	char p[16], cert[512], key[512];
	const char *argv[] = { "postern-keyserver", "--port", p, "--cert", cert, "--key", key,
		"--dir", dir, NULL };
	pid_t pid;

	snprintf(p, sizeof(p), "%d", port);
	snprintf(cert, sizeof(cert), "%s/server.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/server.key", tls_dir);
	pid = th_spawn(argv, NULL);
	/* up once it accepts connections */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(50000);
	}
	fail_msg("postern-keyserver does not listen on %d", port);
	return -1;
}
