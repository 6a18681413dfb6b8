/*
 * gpg.c - OpenPGP through GPGME, wrapped once (see gpg.h): the handle and
 * its home directory.
 *
 * One pn_gpg is one GnuPG home directory and one GPGME context, used by one
 * thread. Every operation runs gpg in pinentry loopback mode: passphrases
 * are handed to the agent by our passphrase callback, one call at a time,
 * and are never written anywhere. The agent of a Postern homedir is told
 * not to cache passphrases at all (default-cache-ttl 0): with caching on,
 * a decrypt after a successful one would ignore a wrong passphrase for ten
 * minutes, and one homedir holds the keys of many mailboxes.
 *
 * Decrypt hands the passphrase out only when gpg names the secret key it
 * wants; a symmetric (password-encrypted) message asks without a key and
 * is refused, so a passphrase never serves as a message password.
 *
 * Output of every operation goes into our own growable buffer (a GPGME
 * callback data object) that wipes every block it gives up and refuses to
 * grow beyond PN_GPG_MAX_OUTPUT, so plaintext never lingers in freed heap
 * memory and a compression bomb ends as PN_ERR_TOOLARGE.
 *
 * Errors: a wrong passphrase is PN_ERR_PERM, input that is not OpenPGP or
 * not for the given key PN_ERR_PARAMS, an unusable public key
 * PN_ERR_PARAMS, anything else PN_ERR_INTERNAL (logged with GPGME's text,
 * never with key material or passphrases).
 *
 * This file is the bottom layer: the handle, its homedir and
 * configuration, the output sink, the passphrase callback and the error
 * mapping. The layers above it (gpg_int.h lists them) are the agent
 * (gpg_agent.c), the encryption server (gpg_server.c), keys in the keyring
 * with keygen, encrypt, decrypt and passwd (gpg_keys.c) and the key
 * finder (gpg_find.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gpgme.h>
#include <sodium.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "gpg_int.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

/* gpg_global_init - gpgme_check_version once per process */
static void gpg_global_init(void)
{
	if (sodium_init() < 0)
		return;
	if (!gpgme_check_version(NULL))
		return;
	if (gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) != 0)
		return;
	init_ok = 1;
}

/* pn_buf_free - wipe and free a buffer's data; NULL-tolerant */
void pn_buf_free(pn_buf *buf)
{
	if (!buf)
		return;
	if (buf->data) {
		pn_wipe(buf->data, buf->len);
		free(buf->data);
	}
	buf->data = NULL;
	buf->len = 0;
}

/* ---- output sink ---- */

/* sink_write - GPGME write callback: append, wiping the old block on growth */
static ssize_t sink_write(void *handle, const void *buf, size_t size)
{
	sink *s = handle;

	if (size > s->max || s->len > s->max - size) {
		s->overflow = 1;
		errno = EFBIG;
		return -1;
	}
	if (s->len + size + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + size + 1)
			cap *= 2;
		uint8_t *n = pn_malloc(cap);
		if (s->data) {
			memcpy(n, s->data, s->len);
			pn_wipe(s->data, s->cap);
			free(s->data);
		}
		s->data = n;
		s->cap = cap;
	}
	memcpy(s->data + s->len, buf, size);
	s->len += size;
	return (ssize_t)size;
}

static struct gpgme_data_cbs sink_cbs = { NULL, sink_write, NULL, NULL };

/* gpg_sink_open - a GPGME data object writing into s */
gpgme_error_t gpg_sink_open(sink *s, gpgme_data_t *dh_r)
{
	memset(s, 0, sizeof(*s));
	s->max = PN_GPG_MAX_OUTPUT;
	return gpgme_data_new_from_cbs(dh_r, &sink_cbs, s);
}

/* gpg_sink_take - hand the sink's content to out (NUL-terminated) */
void gpg_sink_take(sink *s, pn_buf *out)
{
	if (!s->data) {
		s->data = pn_malloc(1);
		s->cap = 1;
	}
	s->data[s->len] = '\0';
	out->data = s->data;
	out->len = s->len;
	s->data = NULL;
	s->len = s->cap = 0;
}

/* gpg_sink_wipe - wipe and free whatever the sink still holds */
void gpg_sink_wipe(sink *s)
{
	if (s->data) {
		pn_wipe(s->data, s->cap);
		free(s->data);
	}
	s->data = NULL;
	s->len = s->cap = 0;
}

/* gpg_data_release - gpgme_data_release that takes a pointer and clears it */
void gpg_data_release(gpgme_data_t *dh)
{
	if (*dh)
		gpgme_data_release(*dh);
	*dh = NULL;
}

/* gpg_key_release - gpgme_key_unref that takes a pointer and clears it */
void gpg_key_release(gpgme_key_t *key)
{
	if (*key)
		gpgme_key_unref(*key);
	*key = NULL;
}

/* ---- passphrases ---- */

/* pass_cb - loopback pinentry: write the passphrase due now, then a newline */
static gpgme_error_t pass_cb(void *hook, const char *uid_hint,
    const char *info, int prev_was_bad, int fd)
{
	pass_state *ps = hook;
	const char *p;

	(void)uid_hint;
	(void)info;
	ps->calls++;
	pn_debug("msg=\"gpg passphrase asked\" call=%d prev_was_bad=%d hint=%d", ps->calls,
	    prev_was_bad, uid_hint != NULL);
	if (prev_was_bad) {
		/* the agent asks again: the one we gave was wrong; stop here */
		ps->bad = 1;
		gpgme_io_writen(fd, "\n", 1);
		return gpg_error(GPG_ERR_BAD_PASSPHRASE);
	}
	if (ps->need_hint && !uid_hint) {
		/* a symmetric (SKESK) message asks without naming a key: our
		 * passphrase is for a key, never a message password */
		ps->refused = 1;
		gpgme_io_writen(fd, "\n", 1);
		return gpg_error(GPG_ERR_CANCELED);
	}
	if (!(p = ps->pass)) {
		ps->refused = 1;
		gpgme_io_writen(fd, "\n", 1);
		return gpg_error(GPG_ERR_CANCELED);
	}
	if (gpgme_io_writen(fd, p, strlen(p)) < 0 || gpgme_io_writen(fd, "\n", 1) < 0)
		return gpgme_error_from_syserror();
	return 0;
}

/*
 * gpg_pass_set - arm the callback for one operation with one passphrase.
 * There is deliberately no way to hand out two: gpg --passwd asks for the
 * old and the new passphrase with the same prompt and no hint, and how
 * often it asks depends on the agent's nonce cache (see gpg_agent_passwd).
 */
void gpg_pass_set(pn_gpg *gpg, const char *pass)
{
	memset(&gpg->ps, 0, sizeof(gpg->ps));
	gpg->ps.pass = pass;
}

/* gpg_pass_clear - forget the borrowed passphrase pointers */
void gpg_pass_clear(pn_gpg *gpg)
{
	gpg->ps.pass = NULL;
}

/* gpg_pass_valid - one line of text: a passphrase must not hold CR or LF */
int gpg_pass_valid(const char *p)
{
	return p && !strpbrk(p, "\r\n") && strlen(p) <= 4096;
}

/* ---- errors ---- */

/* gpg_map_err - a GPGME error as pn_err; a refused passphrase is PERM */
pn_err gpg_map_err(pn_gpg *gpg, gpgme_error_t err, const char *what)
{
	gpg_err_code_t code = gpg_err_code(err);

	if (gpg->ps.bad || code == GPG_ERR_BAD_PASSPHRASE)
		return PN_ERR_PERM;
	switch (code) {
	case GPG_ERR_CANCELED:
		return PN_ERR_PERM;
	case GPG_ERR_NO_DATA:
	case GPG_ERR_BAD_DATA:
	case GPG_ERR_INV_DATA:
	case GPG_ERR_INV_PACKET:
	case GPG_ERR_UNUSABLE_PUBKEY:
	case GPG_ERR_INV_VALUE:
		return PN_ERR_PARAMS;
	case GPG_ERR_ENOMEM:
		return PN_ERR_TEMP;
	default:
		break;
	}
	pn_warn("msg=\"gpg operation failed\" op=%s error=\"%s\" source=\"%s\"",
	    what, gpgme_strerror(err), gpgme_strsource(err));
	return PN_ERR_INTERNAL;
}

/* ---- homedir ---- */

/* write_conf - make dir/name hold exactly text (atomic, mode 0600) */
static int write_conf(const char *dir, const char *name, const char *text)
{
	char path[512], tmp[560], old[1024];
	size_t len = strlen(text);
	int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, old, sizeof(old));
		close(fd);
		fd = -1;
		if (n == (ssize_t)len && !memcmp(old, text, len))
			return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto fail;
	if (write(fd, text, len) != (ssize_t)len)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	pn_error("msg=\"cannot write gpg configuration\" path=%s error=\"%s\"",
	    path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* mkdir_p - create dir and missing parents; the last one mode 0700 */
static int mkdir_p(const char *dir)
{
	char buf[512];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return chmod(buf, 0700);
}

/* pn_gpg_open - prepare the homedir and a GPGME context for it */
pn_gpg *pn_gpg_open(const char *homedir, unsigned long s2k_count)
{
	pn_gpg *gpg = NULL;
	gpgme_error_t err = 0;
	char agent_conf[256], abs[512], cwd[400];
	int n;

	pthread_once(&init_once, gpg_global_init);
	if (!init_ok) {
		pn_error("msg=\"GPGME or gpg not usable\"");
		return NULL;
	}
	if (homedir && *homedir && homedir[0] != '/') {
		/* gpg and its agent want an absolute home */
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(abs, sizeof(abs), "%s/%s", cwd, homedir) >= (int)sizeof(abs)) {
			pn_error("msg=\"gpg homedir path too long\" homedir=\"%s\"", homedir);
			return NULL;
		}
		homedir = abs;
	}
	if (!homedir || !*homedir || strlen(homedir) > 80) {
		pn_error("msg=\"gpg homedir missing or too long (max 80)\" homedir=\"%s\"",
		    homedir ? homedir : "");
		return NULL;
	}
	if (mkdir_p(homedir) < 0) {
		pn_error("msg=\"cannot create gpg homedir\" homedir=%s error=\"%s\"",
		    homedir, strerror(errno));
		return NULL;
	}
	if (write_conf(homedir, "gpg.conf",
	    "# managed by postern (lib/src/gpg.c)\n"
	    "pinentry-mode loopback\n"
	    "trust-model always\n"
	    "no-auto-key-retrieve\n") < 0)
		return NULL;
	n = snprintf(agent_conf, sizeof(agent_conf),
	    "# managed by postern (lib/src/gpg.c)\n"
	    "allow-loopback-pinentry\n"
	    "default-cache-ttl 0\n"
	    "max-cache-ttl 0\n");
	if (s2k_count)
		snprintf(agent_conf + n, sizeof(agent_conf) - (size_t)n,
		    "s2k-count %lu\n", s2k_count);
	if (write_conf(homedir, "gpg-agent.conf", agent_conf) < 0)
		return NULL;

	gpg = pn_calloc(1, sizeof(*gpg));
	gpg->homedir = pn_strdup(homedir);
	if ((err = gpgme_new(&gpg->ctx)) != 0)
		goto fail;
	if ((err = gpgme_set_protocol(gpg->ctx, GPGME_PROTOCOL_OpenPGP)) != 0)
		goto fail;
	if ((err = gpgme_ctx_set_engine_info(gpg->ctx, GPGME_PROTOCOL_OpenPGP,
	    NULL, homedir)) != 0)
		goto fail;
	gpgme_set_armor(gpg->ctx, 1);
	gpgme_set_offline(gpg->ctx, 1);
	if ((err = gpgme_set_pinentry_mode(gpg->ctx, GPGME_PINENTRY_MODE_LOOPBACK)) != 0)
		goto fail;
	gpgme_set_passphrase_cb(gpg->ctx, pass_cb, &gpg->ps);
	if ((err = gpgme_set_keylist_mode(gpg->ctx, GPGME_KEYLIST_MODE_LOCAL)) != 0)
		goto fail;
	return gpg;
fail:
	pn_error("msg=\"cannot set up GPGME\" homedir=%s error=\"%s\"", homedir,
	    gpgme_strerror(err));
	pn_gpg_close(&gpg);
	return NULL;
}

/* gpg_program - the gpg GPGME runs for this handle (its engine's file name), or "gpg" */
const char *gpg_program(pn_gpg *gpg)
{
	const char *file = NULL;

	for (gpgme_engine_info_t info = gpgme_ctx_get_engine_info(gpg->ctx); info;
	    info = info->next)
		if (info->protocol == GPGME_PROTOCOL_OpenPGP)
			file = info->file_name;
	return file ? file : "gpg";
}

/* handle_free - release the context and free the handle (the agent is the caller's) */
static void handle_free(pn_gpg *gpg)
{
	gpg_server_stop(gpg);
	gpg_found_flush(gpg);
	free(gpg->found);
	if (gpg->ctx)
		gpgme_release(gpg->ctx);
	pn_free(&gpg->homedir);
	pn_free(&gpg->agent_sock);
	pn_wipe(gpg, sizeof(*gpg));
	free(gpg);
}

/* pn_gpg_close - release the context and stop the homedir's agent */
void pn_gpg_close(pn_gpg **gpgp)
{
	pn_gpg *gpg = gpgp ? *gpgp : NULL;

	if (!gpg)
		return;
	*gpgp = NULL;
	gpg_server_stop(gpg);
	gpg_agent_kill_all(gpg->homedir);
	handle_free(gpg);
}

/* rm_entry - nftw callback: remove one file or (emptied) directory */
static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT) {
		pn_warn("msg=\"cannot remove\" path=%s error=\"%s\"", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* pn_gpg_remove - stop the agent, delete the homedir with everything in it */
int pn_gpg_remove(pn_gpg **gpgp)
{
	pn_gpg *gpg = gpgp ? *gpgp : NULL;
	int rc;

	if (!gpg)
		return 0;
	*gpgp = NULL;
	gpg_server_stop(gpg);
	gpg_agent_kill(gpg);
	/* no symlinks followed, no other file system entered; the agent may
	 * be removing its own sockets meanwhile (ENOENT is fine) */
	rc = nftw(gpg->homedir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rc != 0 && errno != ENOENT)
		pn_warn("msg=\"gpg homedir not removed\" homedir=%s", gpg->homedir);
	else
		rc = 0;
	handle_free(gpg);
	return rc == 0 ? 0 : -1;
}
