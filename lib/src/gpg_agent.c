/*
 * gpg_agent.c - talking to a homedir's gpg-agent ourselves, over Assuan.
 *
 * GPGME speaks to gpg, and gpg to its agent; for three things that is not
 * enough, and this file talks to the agent directly: changing a key's
 * passphrase (PASSWD per key grip, the only reliable way under loopback
 * pinentry - see below), removing a key's secret material completely
 * (gpg's own deletion stops at the first subkey the agent keeps), and
 * stopping the agent of a homedir that is about to be removed, waiting
 * until it is gone. It also runs gpgconf, to start an agent or stop all
 * of a homedir's daemons. Used by gpg.c (close, remove) and gpg_keys.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <assuan.h>
#include <gpgme.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "gpg_int.h"

/* gpgconf_run - gpgconf --homedir D <what> <which>, without a shell; 0 if it exited 0 */
static int gpgconf_run(const char *homedir, const char *what, const char *which)
{
	pid_t pid = fork();
	int status = 0;

	if (pid < 0) {
		pn_warn("msg=\"cannot fork gpgconf\" error=\"%s\"", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("gpgconf", "gpgconf", "--homedir", homedir, what, which,
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* gpg_agent_kill_all - gpgconf --homedir D --kill all */
void gpg_agent_kill_all(const char *homedir)
{
	(void)gpgconf_run(homedir, "--kill", "all");
}

/*
 * Why passwd does not go through gpg: "gpg --passwd" changes the
 * protection one key (primary, then each subkey) at a time, and the agent
 * asks for the old passphrase (INQUIRE PASSPHRASE) and the new one
 * (INQUIRE NEW_PASSPHRASE) of each. gpg hands the agent a cache nonce and
 * a passwd nonce so that it need not ask again for the next key; with our
 * "max-cache-ttl 0" those nonce entries expire as soon as the clock
 * reaches the next second, and the agent looks the old one up before
 * unprotecting the key and the new one after (unprotecting costs the full S2K count, ~350 ms
 * under a calibrated count). So the prompts for a two-key blob are
 * "old new", "old new old new" or - when the second turns in between -
 * "old new new". gpg turns both inquiries into the same prompt
 * (GET_HIDDEN passphrase.enter, no hint, no NEED_PASSPHRASE), so a
 * passphrase callback cannot tell them apart; one that assumes the order
 * protects the encryption subkey with the OLD passphrase in the third
 * case, the export that follows skips that subkey silently (wrong
 * passphrase in loopback: one try, an error only in gpg's log) and the
 * caller gets a blob without its encryption subkey: "No secret key".
 *
 * Here we send PASSWD <keygrip> for each key ourselves, with no nonces,
 * and answer each inquiry by its name: the agent says which one it wants.
 */

/* agent_socket - the agent's socket for this homedir (asked gpgconf once) */
static const char *agent_socket(pn_gpg *gpg)
{
	gpgme_ctx_t c = NULL;
	char *dir = NULL;
	gpgme_error_t err;

	if (gpg->agent_sock)
		return gpg->agent_sock;
	if ((err = gpgme_new(&c)) != 0 ||
	    (err = gpgme_set_protocol(c, GPGME_PROTOCOL_GPGCONF)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(c, GPGME_PROTOCOL_GPGCONF, NULL,
	    gpg->homedir)) != 0 ||
	    (err = gpgme_op_conf_dir(c, "agent-socket", &dir)) != 0 || !dir) {
		pn_warn("msg=\"cannot find the gpg-agent socket\" homedir=%s error=\"%s\"",
		    gpg->homedir, gpgme_strerror(err));
	} else {
		gpg->agent_sock = pn_strdup(dir);
	}
	gpgme_free(dir);
	if (c)
		gpgme_release(c);
	return gpg->agent_sock;
}

/* gpg_agent_open - an Assuan connection to the homedir's agent (started if need be), loopback pinentry */
gpg_error_t gpg_agent_open(pn_gpg *gpg, assuan_context_t *ctx_r)
{
	assuan_context_t ctx = NULL;
	const char *sock = agent_socket(gpg);
	gpg_error_t err;

	*ctx_r = NULL;
	if (!sock)
		return gpg_error(GPG_ERR_NO_AGENT);
	if ((err = assuan_new(&ctx)) != 0)
		return err;
	err = assuan_socket_connect(ctx, sock, ASSUAN_INVALID_PID, 0);
	if (err && gpgconf_run(gpg->homedir, "--launch", "gpg-agent") == 0)
		err = assuan_socket_connect(ctx, sock, ASSUAN_INVALID_PID, 0);
	if (!err)
		err = assuan_transact(ctx, "OPTION pinentry-mode=loopback", NULL, NULL,
		    NULL, NULL, NULL, NULL);
	if (err) {
		pn_warn("msg=\"cannot talk to gpg-agent\" homedir=%s error=\"%s\"",
		    gpg->homedir, gpgme_strerror(err));
		assuan_release(ctx);
		return err;
	}
	*ctx_r = ctx;
	return 0;
}

/* pid_cb - the data line of GETINFO pid */
static gpg_error_t pid_cb(void *opaque, const void *buf, size_t len)
{
	long *pid = opaque;
	const char *p = buf;

	*pid = 0;
	for (size_t i = 0; i < len && i < 12 && p[i] >= '0' && p[i] <= '9'; i++)
		*pid = *pid * 10 + (p[i] - '0');
	return 0;
}

/* process_gone - has pid exited (a zombie counts: nobody may reap an agent here)? */
static int process_gone(long pid)
{
	char path[64], buf[256], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : kill((pid_t)pid, 0) < 0 && errno == ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/*
 * gpg_agent_kill - stop the homedir's agent if one runs (KILLAGENT; never
 * starts one) and wait until it has exited (at most 2 s). What "gpgconf
 * --kill gpg-agent" does, without its two processes, and with the wait:
 * an agent on its way out removes its socket files by name, and the
 * socket a new agent of a new homedir at the same path has just made
 * would be the one to go (gpg then finds "no agent running").
 */
void gpg_agent_kill(pn_gpg *gpg)
{
	assuan_context_t ctx = NULL;
	char local[600];
	const char *sock = NULL;
	struct stat st;
	gpg_error_t err = gpg_error(GPG_ERR_NO_AGENT);
	long pid = 0;

	if (assuan_new(&ctx) != 0) {
		gpg_agent_kill_all(gpg->homedir);
		return;
	}
	/* the socket in the homedir, where gpg puts it without /run/user
	 * (no gpgconf run to ask); else where gpgconf says */
	snprintf(local, sizeof(local), "%s/S.gpg-agent", gpg->homedir);
	if (stat(local, &st) == 0 && S_ISSOCK(st.st_mode))
		err = assuan_socket_connect(ctx, local, ASSUAN_INVALID_PID, 0);
	if (err && (sock = agent_socket(gpg)) && strcmp(sock, local))
		err = assuan_socket_connect(ctx, sock, ASSUAN_INVALID_PID, 0);
	if (!err) {
		if (assuan_transact(ctx, "GETINFO pid", pid_cb, &pid, NULL, NULL, NULL,
		    NULL) != 0)
			pid = 0;
		(void)assuan_transact(ctx, "KILLAGENT", NULL, NULL, NULL, NULL, NULL, NULL);
	}
	assuan_release(ctx);
	for (int i = 0; pid > 1 && i < 2000 && !process_gone(pid); i++) {
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	if (pid > 1 && !process_gone(pid))
		pn_warn("msg=\"gpg-agent still running after KILLAGENT\" homedir=%s pid=%ld",
		    gpg->homedir, pid);
}

/* What gpg_agent_passwd answers, and what the agent asked for. */
typedef struct agent_inq {
	assuan_context_t ctx;
	const char *old_pass, *new_pass;
	int asked_old, asked_new;
} agent_inq;

/* is_keyword - line is exactly kw, or kw followed by a space */
static int is_keyword(const char *line, const char *kw)
{
	size_t n = strlen(kw);
	return !strncmp(line, kw, n) && (line[n] == '\0' || line[n] == ' ');
}

/* agent_inq_cb - answer INQUIRE PASSPHRASE with the old, NEW_PASSPHRASE with the new one, once each */
static gpg_error_t agent_inq_cb(void *opaque, const char *line)
{
	agent_inq *q = opaque;
	const char *p;
	gpg_error_t err;

	if (is_keyword(line, "PASSPHRASE") && !q->asked_old) {
		q->asked_old = 1;
		p = q->old_pass;
	} else if (is_keyword(line, "NEW_PASSPHRASE") && !q->asked_new) {
		q->asked_new = 1;
		p = q->new_pass;
	} else {
		/* asked twice (a wrong answer; loopback never retries) or
		 * something we do not answer */
		pn_debug("msg=\"gpg-agent inquiry refused\" keyword=\"%.20s\"", line);
		return gpg_error(GPG_ERR_CANCELED);
	}
	assuan_begin_confidential(q->ctx);
	err = assuan_send_data(q->ctx, p, strlen(p));
	assuan_end_confidential(q->ctx);
	return err;
}

/*
 * gpg_agent_passwd - re-protect the agent's key grip from old to new
 * passphrase. The agent must ask for the new passphrase (it always does
 * without a passwd nonce); PN_ERR_PERM if it refused the old one.
 */
pn_err gpg_agent_passwd(assuan_context_t ctx, const char *grip,
    const char *old_pass, const char *new_pass)
{
	char cmd[16 + PN_GPG_GRIP_LEN];
	agent_inq q = { ctx, old_pass, new_pass, 0, 0 };
	gpg_error_t err;

	snprintf(cmd, sizeof(cmd), "PASSWD %.40s", grip);
	err = assuan_transact(ctx, cmd, NULL, NULL, agent_inq_cb, &q, NULL, NULL);
	pn_debug("msg=\"gpg-agent passwd\" asked_old=%d asked_new=%d error=\"%s\"",
	    q.asked_old, q.asked_new, gpgme_strerror(err));
	switch (gpg_err_code(err)) {
	case GPG_ERR_NO_ERROR:
		break;
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_NO_PASSPHRASE:
	case GPG_ERR_CANCELED:
		return PN_ERR_PERM;
	default:
		pn_warn("msg=\"gpg operation failed\" op=passwd error=\"%s\" source=\"%s\"",
		    gpgme_strerror(err), gpgme_strsource(err));
		return PN_ERR_INTERNAL;
	}
	if (!q.asked_new) {
		pn_warn("msg=\"gpg-agent changed no passphrase\" op=passwd");
		return PN_ERR_INTERNAL;
	}
	return PN_OK;
}

/* gpg_agent_has_key - does the agent hold secret material for grip? */
int gpg_agent_has_key(assuan_context_t ctx, const char *grip)
{
	char cmd[16 + PN_GPG_GRIP_LEN];

	snprintf(cmd, sizeof(cmd), "HAVEKEY %.40s", grip);
	return assuan_transact(ctx, cmd, NULL, NULL, NULL, NULL, NULL, NULL) == 0;
}

/*
 * gpg_agent_delete_grips - remove the agent's secret material for each grip;
 * material that is not there is fine. 0, or -1 if some is left.
 */
int gpg_agent_delete_grips(pn_gpg *gpg, char (*grips)[PN_GPG_GRIP_LEN + 1], int n)
{
	assuan_context_t ctx = NULL;
	char cmd[32 + PN_GPG_GRIP_LEN];
	int rc = 0;

	if (n <= 0)
		return 0;
	if (gpg_agent_open(gpg, &ctx) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!grips[i][0] || !gpg_agent_has_key(ctx, grips[i]))
			continue;
		snprintf(cmd, sizeof(cmd), "DELETE_KEY --force %.40s", grips[i]);
		gpg_error_t err = assuan_transact(ctx, cmd, NULL, NULL, NULL, NULL, NULL, NULL);
		if ((err && gpg_err_code(err) != GPG_ERR_NO_SECKEY) || gpg_agent_has_key(ctx, grips[i])) {
			pn_warn("msg=\"gpg-agent kept a secret key\" grip=%s error=\"%s\"", grips[i],
			    gpgme_strerror(err));
			rc = -1;
		}
	}
	assuan_release(ctx);
	return rc;
}
