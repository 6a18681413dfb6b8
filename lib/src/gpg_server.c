/*
 * gpg_server.c - the encryption path through "gpg --server".
 *
 * Encryption, the hot path (every stored message is two of them), does not
 * fork a gpg per call: each handle keeps one "gpg --server" process (the
 * Assuan server mode of gpg; RECIPIENT and ENCRYPT are what it supports)
 * started on first use, and hands it the plaintext and an empty output
 * as two memfd descriptors (memory only, passed over the socketpair).
 * That saves the ~5-13 ms process start per operation (docs/performance.md).
 * The server reads the keyring per RECIPIENT, so keys imported later by
 * the GPGME path are found. Whatever goes wrong there (no server, a
 * recipient it refuses, a dead process) falls back to the GPGME path for
 * that call (gpg_keys.c, encrypt_once), which is the reference behaviour
 * and maps the errors; the server is restarted on the next call, and
 * given up for the handle after PN_GPG_SRV_TRIES failed starts. gpg's
 * server has no per-command armor switch, so a handle that asks for both
 * kinds of output runs two: armored (mail, PINs, receipts) and binary
 * (stored messages, a quarter smaller on every hop after).
 * POSTERN_GPG_NO_SERVER=1 turns it off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <assuan.h>
#include <gpgme.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "gpg_int.h"

#define PN_GPG_SRV_TRIES 3          /* failed "gpg --server" starts before giving up */

/* srv_stop - end one server process (BYE, then wait for it) */
static void srv_stop(pn_gpg *gpg, int armored)
{
	if (gpg->srv[armored])
		assuan_release(gpg->srv[armored]);
	gpg->srv[armored] = NULL;
}

/* gpg_server_stop - end the server processes */
void gpg_server_stop(pn_gpg *gpg)
{
	srv_stop(gpg, 0);
	srv_stop(gpg, 1);
}

/* srv_start - a running server (armored or binary) for this homedir, or -1 (use GPGME) */
static int srv_start(pn_gpg *gpg, int armored)
{
	static const char *const off = "POSTERN_GPG_NO_SERVER";
	const char *file, *env = getenv(off);
	assuan_fd_t keep[] = { ASSUAN_INVALID_FD };
	gpg_error_t err;

	if (gpg->srv[armored])
		return 0;
	if (gpg->srv_fails >= PN_GPG_SRV_TRIES || (env && *env && strcmp(env, "0")))
		return -1;
	file = gpg_program(gpg);
	const char *argv[] = { "gpg", "--homedir", gpg->homedir, "--server", "--batch",
		"--no-tty", "--no-greeting", "--trust-model", "always",
		"--compress-algo", "none", "--no-auto-key-retrieve", "--no-auto-key-locate",
		armored ? "--armor" : NULL, NULL };
	if ((err = assuan_new(&gpg->srv[armored])) != 0)
		goto fail;
	if ((err = assuan_pipe_connect(gpg->srv[armored], file, argv, keep, NULL, NULL,
	    ASSUAN_PIPE_CONNECT_FDPASSING)) != 0)
		goto fail;
	gpg->srv_fails = 0;
	return 0;
fail:
	pn_warn("msg=\"gpg --server did not start; forking gpg per operation\" error=\"%s\"",
	    gpgme_strerror(err));
	srv_stop(gpg, armored);
	gpg->srv_fails++;
	return -1;
}

/* write_all - the whole buffer to fd */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * gpg_server_encrypt - encrypt plain to the keyring key fpr through the server:
 * PN_OK with *s filled, PN_ERR_TOOLARGE, or PN_ERR_TEMP meaning "use the
 * GPGME path for this one" (the server is then stopped or reset).
 */
pn_err gpg_server_encrypt(pn_gpg *gpg, int armored, const char *fpr, const void *plain,
    size_t plain_len, sink *s)
{
	char cmd[PN_GPG_FPR_MAX + 16];
	int in = -1, out = -1, reset = 0;
	gpg_error_t err = 0;
	struct stat st;
	pn_err rc = PN_ERR_TEMP;
	uint8_t *buf = NULL;
	assuan_context_t srv;

	if (srv_start(gpg, armored) < 0)
		return PN_ERR_TEMP;
	srv = gpg->srv[armored];
	if ((in = memfd_create("pn-gpg-in", MFD_CLOEXEC)) < 0 ||
	    (out = memfd_create("pn-gpg-out", MFD_CLOEXEC)) < 0)
		goto done;
	if (write_all(in, plain, plain_len) < 0 || lseek(in, 0, SEEK_SET) != 0)
		goto done;
	snprintf(cmd, sizeof(cmd), "RECIPIENT %s", fpr);
	reset = 1;
	if ((err = assuan_transact(srv, cmd, NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_sendfd(srv, in)) != 0 ||
	    (err = assuan_transact(srv, "INPUT FD", NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_sendfd(srv, out)) != 0 ||
	    (err = assuan_transact(srv, "OUTPUT FD", NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_transact(srv, "ENCRYPT", NULL, NULL, NULL, NULL, NULL, NULL)) != 0)
		goto done;
	reset = 0;
	if (fstat(out, &st) < 0 || st.st_size <= 0)
		goto done;
	if ((size_t)st.st_size > s->max) {
		s->overflow = 1;
		rc = PN_ERR_TOOLARGE;
		goto done;
	}
	buf = pn_malloc((size_t)st.st_size + 1);
	for (size_t got = 0; got < (size_t)st.st_size;) {
		ssize_t n = pread(out, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto done;
		got += (size_t)n;
	}
	s->data = buf;
	s->len = (size_t)st.st_size;
	s->cap = s->len + 1;
	buf = NULL;
	rc = PN_OK;
done:
	if (err)
		pn_debug("msg=\"gpg --server refused; using the GPGME path\" error=\"%s\"",
		    gpgme_strerror(err));
	if (reset && assuan_transact(gpg->srv[armored], "RESET", NULL, NULL, NULL, NULL, NULL,
	    NULL) != 0)
		srv_stop(gpg, armored);
	if (rc == PN_ERR_TEMP && gpg_err_source(err) != GPG_ERR_SOURCE_GPG)
		srv_stop(gpg, armored);          /* not an answer of gpg's: the link is broken */
	/* the plaintext copy: emptied (its pages go back to the kernel) */
	if (in >= 0) {
		if (ftruncate(in, 0) < 0)
			pn_debug("msg=\"cannot truncate memfd\"");
		close(in);
	}
	if (out >= 0)
		close(out);
	if (buf) {
		pn_wipe(buf, (size_t)st.st_size);
		free(buf);
	}
	return rc;
}
