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
 *
 * A large body can also go through the binary server in pieces
 * (gpg_server_encrypt_pieces): the plaintext in and the ciphertext out
 * through pipes instead of memfds, the ciphertext handed on while gpg
 * still writes it. The caller's work on a piece (a round trip to
 * mailstore) then overlaps gpg's on the next, and neither the plaintext
 * nor the ciphertext is ever copied whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#define PN_GPG_PIPE_BYTES (1024 * 1024)  /* asked of each pipe: gpg works a piece ahead */
#define PN_GPG_IDLE_MS 60000        /* gpg silent this long in a streamed encryption: given up */
#define PN_GPG_PIECE_MAX (64UL * 1024 * 1024)

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

/* srv_kill - end a server in the middle of a command: killed, then released */
static void srv_kill(pn_gpg *gpg, int armored)
{
	pid_t pid;

	if (!gpg->srv[armored])
		return;
	if ((pid = assuan_get_pid(gpg->srv[armored])) > 0)
		kill(pid, SIGTERM);
	srv_stop(gpg, armored);
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

/* srv_hand - tell the server the recipient, and hand it the input and output descriptors */
static gpg_error_t srv_hand(assuan_context_t srv, const char *fpr, int in, int out)
{
	char cmd[PN_GPG_FPR_MAX + 16];
	gpg_error_t err;

	snprintf(cmd, sizeof(cmd), "RECIPIENT %s", fpr);
	if ((err = assuan_transact(srv, cmd, NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_sendfd(srv, in)) != 0 ||
	    (err = assuan_transact(srv, "INPUT FD", NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_sendfd(srv, out)) != 0 ||
	    (err = assuan_transact(srv, "OUTPUT FD", NULL, NULL, NULL, NULL, NULL, NULL)) != 0)
		return err;
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
	reset = 1;
	if ((err = srv_hand(srv, fpr, in, out)) != 0 ||
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

/* ---- the ciphertext in pieces ---- */

/* gpg_pieces_valid - a piece size and a last piece's bound the cutter can keep */
int gpg_pieces_valid(const pn_gpg_pieces *out)
{
	return out && out->each && out->piece > 0 && out->last_max >= out->piece &&
	    out->last_max <= PN_GPG_PIECE_MAX;
}

/*
 * gpg_pieces_whole - a whole ciphertext handed on in the pieces a stream
 * gives: `piece` bytes while more than last_max are left, then the rest
 */
pn_err gpg_pieces_whole(const pn_gpg_pieces *out, const uint8_t *data, size_t len)
{
	uint32_t seq = 0;
	pn_err rc;

	if (len == 0)
		return PN_ERR_INTERNAL;
	for (; len > out->last_max; seq++) {
		if ((rc = out->each(out->arg, data, out->piece, seq, 0)) != PN_OK)
			return rc;
		data += out->piece;
		len -= out->piece;
	}
	return out->each(out->arg, data, len, seq, 1);
}

/*
 * cutter - the ciphertext as it comes out of gpg. A piece is handed on
 * only when more than last_max bytes are held, so that the last piece is
 * known to be the last: the buffer has room for last_max + 1.
 */
typedef struct cutter {
	const pn_gpg_pieces *out;
	uint8_t *buf;
	size_t len, cap;
	size_t total;
	uint32_t seq;
	int handed;                 /* each has been called */
	int stopped;                /* each said stop: its status is the answer */
} cutter;

/* cut - hand on a full piece when the buffer is full */
static pn_err cut(cutter *c)
{
	pn_err rc;

	if (c->len < c->cap)
		return PN_OK;
	c->handed = 1;
	if ((rc = c->out->each(c->out->arg, c->buf, c->out->piece, c->seq++, 0)) != PN_OK) {
		c->stopped = 1;
		return rc;
	}
	c->len -= c->out->piece;
	memmove(c->buf, c->buf + c->out->piece, c->len);
	return PN_OK;
}

/* widen - ask for a larger pipe (best effort: the default 64 KiB works, slower) */
static void widen(int fd)
{
	if (fcntl(fd, F_SETPIPE_SZ, PN_GPG_PIPE_BYTES) < PN_GPG_PIPE_BYTES)
		pn_debug("msg=\"pipe keeps its default size\" errno=%d", errno);
}

/* our_end - make fd non-blocking (gpg's ends stay blocking) */
static int our_end(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* close_fd - close *fd if open, and mark it closed */
static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * answer - the server's answer to a command sent with assuan_write_line:
 * 0 for OK, gpg's error for ERR. Status lines are passed over.
 */
static gpg_error_t answer(assuan_context_t srv)
{
	for (;;) {
		char *line;
		size_t n;
		gpg_error_t err = assuan_read_line(srv, &line, &n);

		if (err)
			return err;
		if (n >= 2 && !memcmp(line, "OK", 2) && (n == 2 || line[2] == ' '))
			return 0;
		if (n >= 3 && !memcmp(line, "ERR", 3) && (n == 3 || line[3] == ' ')) {
			char code[16] = "";
			if (n > 4)
				memcpy(code, line + 4, n - 4 < sizeof(code) - 1 ? n - 4 : sizeof(code) - 1);
			err = (gpg_error_t)strtoul(code, NULL, 10);
			return err ? err : gpg_error(GPG_ERR_GENERAL);
		}
		if (n >= 1 && (line[0] == 'S' || line[0] == '#'))
			continue;
		return gpg_error(GPG_ERR_ASS_INV_RESPONSE);   /* INQUIRE, D: not for ENCRYPT */
	}
}

/*
 * pump - feed the plaintext into *in and cut what comes out of *out until
 * gpg closes its end of the output (the command is over). PN_OK at that
 * end; otherwise the encryption is to be abandoned.
 */
static pn_err pump(const uint8_t *plain, size_t plain_len, int *in, int *out, cutter *c)
{
	size_t off = 0;

	if (plain_len == 0)
		close_fd(in);
	for (;;) {
		struct pollfd p[2] = { { *out, POLLIN, 0 }, { *in, POLLOUT, 0 } };
		int n = poll(p, *in >= 0 ? 2 : 1, PN_GPG_IDLE_MS);
		pn_err rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pn_warn("msg=\"gpg --server stopped answering an encryption\" ms=%d",
			    PN_GPG_IDLE_MS);
			return PN_ERR_TEMP;
		}
		if (*in >= 0 && p[1].revents) {
			size_t want = plain_len - off < PN_GPG_PIPE_BYTES ? plain_len - off :
			    PN_GPG_PIPE_BYTES;
			ssize_t w = write(*in, plain + off, want);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				close_fd(in);       /* gpg stopped reading: its answer says why */
			if (off == plain_len)
				close_fd(in);       /* the end of the plaintext */
		}
		if (p[0].revents) {
			ssize_t r = read(*out, c->buf + c->len, c->cap - c->len);
			if (r == 0)
				return PN_OK;
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				return PN_ERR_TEMP;
			}
			c->len += (size_t)r;
			c->total += (size_t)r;
			if (c->total > PN_GPG_MAX_OUTPUT)
				return PN_ERR_TOOLARGE;
			if ((rc = cut(c)) != PN_OK)
				return rc;
		}
	}
}

/*
 * gpg_server_encrypt_pieces - binary encryption to keyring key fpr
 * through the server, the ciphertext handed to out as it comes. The last
 * piece goes only after gpg said OK, so a failed encryption never
 * completes. PN_ERR_TEMP with *handed_r 0: use the GPGME path. SIGPIPE is
 * blocked in this thread while it writes to gpg, and one it raised is
 * taken back.
 */
pn_err gpg_server_encrypt_pieces(pn_gpg *gpg, const char *fpr, const void *plain,
    size_t plain_len, const pn_gpg_pieces *out, int *handed_r)
{
	int in[2] = { -1, -1 }, res[2] = { -1, -1 }, reset = 0, abandon = 0;
	cutter c = { .out = out, .cap = out->last_max + 1 };
	sigset_t pipe_sig, old, before;
	gpg_error_t err = 0;
	pn_err rc = PN_ERR_TEMP;
	assuan_context_t srv;

	*handed_r = 0;
	if (srv_start(gpg, 0) < 0)
		return PN_ERR_TEMP;
	srv = gpg->srv[0];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0 ||
	    our_end(in[1]) < 0 || our_end(res[0]) < 0)
		goto done;
	widen(in[1]);
	widen(res[0]);
	reset = 1;
	if ((err = srv_hand(srv, fpr, in[0], res[1])) != 0)
		goto done;
	/* gpg holds its ends now: ours go, so that its closing them is seen */
	close_fd(&in[0]);
	close_fd(&res[1]);
	c.buf = pn_malloc(c.cap);
	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	sigpending(&before);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
	if ((err = assuan_write_line(srv, "ENCRYPT")) != 0)
		abandon = 1;
	else if ((rc = pump(plain, plain_len, &in[1], &res[0], &c)) != PN_OK)
		abandon = 1;
	close_fd(&in[1]);
	if (!sigismember(&before, SIGPIPE)) {
		sigset_t now;
		struct timespec zero = { 0, 0 };
		sigpending(&now);
		if (sigismember(&now, SIGPIPE))
			sigtimedwait(&pipe_sig, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (abandon) {
		/* mid-command: the server cannot be told to stop, so it goes */
		close_fd(&res[0]);
		srv_kill(gpg, 0);
		reset = 0;
		if (rc == PN_OK)
			rc = PN_ERR_TEMP;
		goto done;
	}
	rc = PN_ERR_TEMP;
	if ((err = answer(srv)) != 0)
		goto done;
	reset = 0;
	if (c.len == 0 && c.seq == 0)
		goto done;                  /* nothing out of a whole command: not to be trusted */
	c.handed = 1;
	if ((rc = out->each(out->arg, c.buf, c.len, c.seq, 1)) != PN_OK)
		c.stopped = 1;
done:
	if (err && !abandon)
		pn_debug("msg=\"gpg --server refused; using the GPGME path\" error=\"%s\"",
		    gpgme_strerror(err));
	if (reset && gpg->srv[0] && assuan_transact(gpg->srv[0], "RESET", NULL, NULL, NULL,
	    NULL, NULL, NULL) != 0)
		srv_stop(gpg, 0);
	if (err && !abandon && gpg->srv[0] && gpg_err_source(err) != GPG_ERR_SOURCE_GPG)
		srv_stop(gpg, 0);           /* not an answer of gpg's: the link is broken */
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&res[0]);
	close_fd(&res[1]);
	free(c.buf);
	*handed_r = c.handed;
	if (c.handed && !c.stopped && rc != PN_OK)
		pn_warn("msg=\"gpg --server failed in the middle of an encryption\" status=%s",
		    pn_err_str(rc));
	return rc;
}
