/*
 * gpg.c - OpenPGP through GPGME, wrapped once (see gpg.h).
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
 * Secret keys given to decrypt and passwd are imported into the keyring and
 * remembered by a hash of the exact armored blob. The keyring must hold
 * exactly the protection the caller passed: if gpg reports the secret key
 * as already present but this handle did not import that very blob (an
 * older protection, a previous process), the key is deleted and imported
 * again - otherwise an old passphrase could keep unlocking a key after it
 * was re-protected. That holds per subkey: gpg counts a blob as "secret
 * unchanged" when any of its keys was there already. Deleting a key means
 * the keyring and the agent's material of every key grip (delete_key).
 * passwd removes the key afterwards for the same reason.
 *
 * passwd talks to the agent itself (PASSWD per key grip, over Assuan)
 * rather than through gpg --passwd, whose two passphrase prompts cannot be
 * told apart and come in a timing-dependent order (see agent_passwd); it
 * hands back the exported key only once a re-import shows secret material
 * for every key it re-protected (gpg's export skips what it cannot unlock,
 * silently).
 *
 * Output of every operation goes into our own growable buffer (a GPGME
 * callback data object) that wipes every block it gives up and refuses to
 * grow beyond PN_GPG_MAX_OUTPUT, so plaintext never lingers in freed heap
 * memory and a compression bomb ends as PN_ERR_TOOLARGE.
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
 * that call, which is the reference behaviour and maps the errors; the
 * server is restarted on the next call, and given up for the handle after
 * PN_GPG_SRV_TRIES failed starts. POSTERN_GPG_NO_SERVER=1 turns it off.
 *
 * provision's key pool makes keys in batches (pn_gpg_keygen_batch: one
 * generation run and two export runs for up to 64 keys, each with its own
 * passphrase) in a homedir that pn_gpg_remove then deletes whole; how the
 * passphrases travel and how the exports are checked is told at that
 * section.
 *
 * Errors: a wrong passphrase is PN_ERR_PERM, input that is not OpenPGP or
 * not for the given key PN_ERR_PARAMS, an unusable public key
 * PN_ERR_PARAMS, anything else PN_ERR_INTERNAL (logged with GPGME's text,
 * never with key material or passphrases).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <assuan.h>
#include <gpgme.h>
#include <sodium.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/openpgp.h"

#define PN_GPG_MAX_OUTPUT (256UL * 1024 * 1024)   /* bytes per operation */
#define PN_GPG_MAX_INPUT (256UL * 1024 * 1024)
#define PN_GPG_MEMO 256             /* imported blobs remembered */
#define PN_GPG_MAX_SUBKEYS 8
#define PN_GPG_FPR_MAX 64
#define PN_GPG_MAX_FIND 10000       /* addresses per pn_gpg_find_keys */
#define PN_GPG_FIND_SLOTS 1024      /* addresses pn_gpg_find_keys remembers */
#define PN_GPG_FIND_TTL 30          /* seconds a remembered answer is used */
#define PN_GPG_SRV_TRIES 3          /* failed "gpg --server" starts before giving up */
#define PN_GPG_GRIP_LEN 40          /* a keygrip in hex */

/* What the passphrase callback hands out, and what it saw. */
typedef struct pass_state {
	const char *pass;            /* the one passphrase this operation may use */
	/* or one per key, picked by the main key id gpg names (keygen_batch) */
	const char (*keyids)[17];
	const char *const *passes;
	size_t nkeys;
	int calls;
	int bad;                     /* the agent said the previous one was wrong */
	int refused;                 /* we had nothing to give */
	int need_hint;               /* only for a secret key gpg names (not symmetric) */
} pass_state;

/* One imported key blob: which fingerprint and subkeys it brought. */
typedef struct memo {
	int used;
	int secret;
	unsigned long tick;
	uint8_t hash[32];
	char fpr[PN_GPG_FPR_MAX];
	int nkeyids;
	char keyids[PN_GPG_MAX_SUBKEYS][17];
} memo;

/* A remembered pn_gpg_find_keys answer for one address. */
typedef struct found {
	char *address;               /* NULL: empty slot */
	char *fpr;                   /* NULL: no usable key */
	pn_buf pub;
	time_t at;
} found;

struct pn_gpg {
	gpgme_ctx_t ctx;
	found *found;                /* PN_GPG_FIND_SLOTS, allocated on first use */
	unsigned long found_stamp[5];   /* the keyring file they were read from */
	char *homedir;
	assuan_context_t srv;        /* "gpg --server" for encryption, or NULL */
	char *agent_sock;            /* the agent's socket, asked once (gpgconf) */
	int srv_fails;               /* failed starts; PN_GPG_SRV_TRIES = off */
	unsigned long added;         /* keys imported new into the keyring (pn_gpg_keys_added) */
	pass_state ps;
	unsigned long tick;
	memo memo[PN_GPG_MEMO];
};

/* A growable output buffer that wipes what it frees. */
typedef struct sink {
	uint8_t *data;
	size_t len, cap;
	size_t max;
	int overflow;
} sink;

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

/* sink_open - a GPGME data object writing into s */
static gpgme_error_t sink_open(sink *s, gpgme_data_t *dh_r)
{
	memset(s, 0, sizeof(*s));
	s->max = PN_GPG_MAX_OUTPUT;
	return gpgme_data_new_from_cbs(dh_r, &sink_cbs, s);
}

/* sink_take - hand the sink's content to out (NUL-terminated) */
static void sink_take(sink *s, pn_buf *out)
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

/* sink_wipe - wipe and free whatever the sink still holds */
static void sink_wipe(sink *s)
{
	if (s->data) {
		pn_wipe(s->data, s->cap);
		free(s->data);
	}
	s->data = NULL;
	s->len = s->cap = 0;
}

/* data_release - gpgme_data_release that takes a pointer and clears it */
static void data_release(gpgme_data_t *dh)
{
	if (*dh)
		gpgme_data_release(*dh);
	*dh = NULL;
}

/* key_release - gpgme_key_unref that takes a pointer and clears it */
static void key_release(gpgme_key_t *key)
{
	if (*key)
		gpgme_key_unref(*key);
	*key = NULL;
}

/* ---- passphrases ---- */

/*
 * pass_pick - the passphrase of the key gpg asks for: info is gpg's
 * NEED_PASSPHRASE "KEYID MAINKEYID ALGO ...", and a subkey is unlocked
 * with its primary key's passphrase. NULL for a key not in the table.
 */
static const char *pass_pick(const pass_state *ps, const char *info)
{
	const char *mainid = info ? strchr(info, ' ') : NULL;

	if (!mainid)
		return NULL;
	mainid++;
	for (size_t i = 0; i < ps->nkeys; i++)
		if (!strncasecmp(mainid, ps->keyids[i], 16) &&
		    (mainid[16] == ' ' || mainid[16] == '\0'))
			return ps->passes[i];
	return NULL;
}

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
	p = ps->nkeys ? pass_pick(ps, info) : ps->pass;
	if (!p) {
		ps->refused = 1;
		gpgme_io_writen(fd, "\n", 1);
		return gpg_error(GPG_ERR_CANCELED);
	}
	if (gpgme_io_writen(fd, p, strlen(p)) < 0 || gpgme_io_writen(fd, "\n", 1) < 0)
		return gpgme_error_from_syserror();
	return 0;
}

/*
 * pass_set - arm the callback for one operation with one passphrase.
 * There is deliberately no way to hand out two: gpg --passwd asks for the
 * old and the new passphrase with the same prompt and no hint, and how
 * often it asks depends on the agent's nonce cache (see agent_passwd).
 */
static void pass_set(pn_gpg *gpg, const char *pass)
{
	memset(&gpg->ps, 0, sizeof(gpg->ps));
	gpg->ps.pass = pass;
}

/* pass_clear - forget the borrowed passphrase pointers */
static void pass_clear(pn_gpg *gpg)
{
	gpg->ps.pass = NULL;
	gpg->ps.keyids = NULL;
	gpg->ps.passes = NULL;
	gpg->ps.nkeys = 0;
}

/* pass_valid - one line of text: a passphrase must not hold CR or LF */
static int pass_valid(const char *p)
{
	return p && !strpbrk(p, "\r\n") && strlen(p) <= 4096;
}

/* ---- errors ---- */

/* map_err - a GPGME error as pn_err; a refused passphrase is PERM */
static pn_err map_err(pn_gpg *gpg, gpgme_error_t err, const char *what)
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

/* kill_agent - gpgconf --homedir D --kill all */
static void kill_agent(const char *homedir)
{
	(void)gpgconf_run(homedir, "--kill", "all");
}

/* ---- the agent, spoken to directly (passwd, complete key removal) ---- */

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

/* agent_open - an Assuan connection to the homedir's agent (started if need be), loopback pinentry */
static gpg_error_t agent_open(pn_gpg *gpg, assuan_context_t *ctx_r)
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
 * agent_kill - stop the homedir's agent if one runs (KILLAGENT; never
 * starts one) and wait until it has exited (at most 2 s). What "gpgconf
 * --kill gpg-agent" does, without its two processes, and with the wait:
 * an agent on its way out removes its socket files by name, and the
 * socket a new agent of a new homedir at the same path has just made
 * would be the one to go (gpg then finds "no agent running").
 */
static void agent_kill(pn_gpg *gpg)
{
	assuan_context_t ctx = NULL;
	char local[600];
	const char *sock = NULL;
	struct stat st;
	gpg_error_t err = gpg_error(GPG_ERR_NO_AGENT);
	long pid = 0;

	if (assuan_new(&ctx) != 0) {
		kill_agent(gpg->homedir);
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

/* What agent_passwd answers, and what the agent asked for. */
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
 * agent_passwd - re-protect the agent's key grip from old to new
 * passphrase. The agent must ask for the new passphrase (it always does
 * without a passwd nonce); PN_ERR_PERM if it refused the old one.
 */
static pn_err agent_passwd(assuan_context_t ctx, const char *grip,
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

/* agent_has_key - does the agent hold secret material for grip? */
static int agent_has_key(assuan_context_t ctx, const char *grip)
{
	char cmd[16 + PN_GPG_GRIP_LEN];

	snprintf(cmd, sizeof(cmd), "HAVEKEY %.40s", grip);
	return assuan_transact(ctx, cmd, NULL, NULL, NULL, NULL, NULL, NULL) == 0;
}

/*
 * agent_delete_grips - remove the agent's secret material for each grip;
 * material that is not there is fine. 0, or -1 if some is left.
 */
static int agent_delete_grips(pn_gpg *gpg, char (*grips)[PN_GPG_GRIP_LEN + 1], int n)
{
	assuan_context_t ctx = NULL;
	char cmd[32 + PN_GPG_GRIP_LEN];
	int rc = 0;

	if (n <= 0)
		return 0;
	if (agent_open(gpg, &ctx) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!grips[i][0] || !agent_has_key(ctx, grips[i]))
			continue;
		snprintf(cmd, sizeof(cmd), "DELETE_KEY --force %.40s", grips[i]);
		gpg_error_t err = assuan_transact(ctx, cmd, NULL, NULL, NULL, NULL, NULL, NULL);
		if ((err && gpg_err_code(err) != GPG_ERR_NO_SECKEY) || agent_has_key(ctx, grips[i])) {
			pn_warn("msg=\"gpg-agent kept a secret key\" grip=%s error=\"%s\"", grips[i],
			    gpgme_strerror(err));
			rc = -1;
		}
	}
	assuan_release(ctx);
	return rc;
}

/* ---- remembered keyring answers (pn_gpg_find_keys) ---- */

/* found_clear - empty one slot */
static void found_clear(found *f)
{
	pn_free(&f->address);
	pn_free(&f->fpr);
	pn_buf_free(&f->pub);
	f->at = 0;
}

/* found_flush - forget every remembered answer */
static void found_flush(pn_gpg *gpg)
{
	if (!gpg->found)
		return;
	for (int i = 0; i < PN_GPG_FIND_SLOTS; i++)
		found_clear(&gpg->found[i]);
}

/* keyring_stamp - identity and version of the keyring file (zeros if none) */
static void keyring_stamp(const pn_gpg *gpg, unsigned long st_r[5])
{
	static const char *const names[] = { "pubring.kbx", "pubring.gpg" };
	char path[600];
	struct stat st;

	memset(st_r, 0, 5 * sizeof(st_r[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", gpg->homedir, names[i]);
		if (stat(path, &st) == 0) {
			st_r[0] = (unsigned long)st.st_dev;
			st_r[1] = (unsigned long)st.st_ino;
			st_r[2] = (unsigned long)st.st_size;
			st_r[3] = (unsigned long)st.st_mtim.tv_sec;
			st_r[4] = (unsigned long)st.st_mtim.tv_nsec;
			return;
		}
	}
}

/* found_slot - the slot for address (FNV-1a) */
static found *found_slot(pn_gpg *gpg, const char *address)
{
	uint32_t h = 2166136261u;

	for (const char *p = address; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &gpg->found[h % PN_GPG_FIND_SLOTS];
}

/* ---- the encryption server ("gpg --server") ---- */

/* srv_stop - end the server process (BYE, then wait for it) */
static void srv_stop(pn_gpg *gpg)
{
	if (gpg->srv)
		assuan_release(gpg->srv);
	gpg->srv = NULL;
}

/* srv_start - a running server for this homedir, or -1 (use GPGME) */
static int srv_start(pn_gpg *gpg)
{
	static const char *const off = "POSTERN_GPG_NO_SERVER";
	gpgme_engine_info_t info;
	const char *file = NULL, *env = getenv(off);
	assuan_fd_t keep[] = { ASSUAN_INVALID_FD };
	gpg_error_t err;

	if (gpg->srv)
		return 0;
	if (gpg->srv_fails >= PN_GPG_SRV_TRIES || (env && *env && strcmp(env, "0")))
		return -1;
	for (info = gpgme_ctx_get_engine_info(gpg->ctx); info; info = info->next)
		if (info->protocol == GPGME_PROTOCOL_OpenPGP)
			file = info->file_name;
	if (!file)
		file = "gpg";
	const char *argv[] = { "gpg", "--homedir", gpg->homedir, "--server", "--batch",
		"--no-tty", "--no-greeting", "--armor", "--trust-model", "always",
		"--compress-algo", "none", "--no-auto-key-retrieve", "--no-auto-key-locate",
		NULL };
	if ((err = assuan_new(&gpg->srv)) != 0)
		goto fail;
	if ((err = assuan_pipe_connect(gpg->srv, file, argv, keep, NULL, NULL,
	    ASSUAN_PIPE_CONNECT_FDPASSING)) != 0)
		goto fail;
	gpg->srv_fails = 0;
	return 0;
fail:
	pn_warn("msg=\"gpg --server did not start; forking gpg per operation\" error=\"%s\"",
	    gpgme_strerror(err));
	srv_stop(gpg);
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
 * srv_encrypt - encrypt plain to the keyring key fpr through the server:
 * PN_OK with *s filled, PN_ERR_TOOLARGE, or PN_ERR_TEMP meaning "use the
 * GPGME path for this one" (the server is then stopped or reset).
 */
static pn_err srv_encrypt(pn_gpg *gpg, const char *fpr, const void *plain,
    size_t plain_len, sink *s)
{
	char cmd[PN_GPG_FPR_MAX + 16];
	int in = -1, out = -1, reset = 0;
	gpg_error_t err = 0;
	struct stat st;
	pn_err rc = PN_ERR_TEMP;
	uint8_t *buf = NULL;

	if (srv_start(gpg) < 0)
		return PN_ERR_TEMP;
	if ((in = memfd_create("pn-gpg-in", MFD_CLOEXEC)) < 0 ||
	    (out = memfd_create("pn-gpg-out", MFD_CLOEXEC)) < 0)
		goto done;
	if (write_all(in, plain, plain_len) < 0 || lseek(in, 0, SEEK_SET) != 0)
		goto done;
	snprintf(cmd, sizeof(cmd), "RECIPIENT %s", fpr);
	reset = 1;
	if ((err = assuan_transact(gpg->srv, cmd, NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_sendfd(gpg->srv, in)) != 0 ||
	    (err = assuan_transact(gpg->srv, "INPUT FD", NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_sendfd(gpg->srv, out)) != 0 ||
	    (err = assuan_transact(gpg->srv, "OUTPUT FD", NULL, NULL, NULL, NULL, NULL, NULL)) != 0 ||
	    (err = assuan_transact(gpg->srv, "ENCRYPT", NULL, NULL, NULL, NULL, NULL, NULL)) != 0)
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
	if (reset && assuan_transact(gpg->srv, "RESET", NULL, NULL, NULL, NULL, NULL,
	    NULL) != 0)
		srv_stop(gpg);
	if (rc == PN_ERR_TEMP && gpg_err_source(err) != GPG_ERR_SOURCE_GPG)
		srv_stop(gpg);          /* not an answer of gpg's: the link is broken */
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

/* handle_free - release the context and free the handle (the agent is the caller's) */
static void handle_free(pn_gpg *gpg)
{
	srv_stop(gpg);
	found_flush(gpg);
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
	srv_stop(gpg);
	kill_agent(gpg->homedir);
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
	srv_stop(gpg);
	agent_kill(gpg);
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

/* ---- keys in the keyring ---- */

/* get_key - the keyring key with this fingerprint (secret: its secret part) */
static gpgme_error_t get_key(pn_gpg *gpg, const char *fpr, int secret,
    gpgme_key_t *key_r)
{
	return gpgme_get_key(gpg->ctx, fpr, key_r, secret);
}

/*
 * delete_key - remove the key fpr completely: the public key and every
 * secret key of it from the keyring, and then, in the agent, the secret
 * material of every key grip it had plus the n extra grips the caller
 * knows from before. gpg's own deletion stops at the first subkey the
 * agent does not delete and does nothing without the public key; secret
 * material left behind would make a later import of the same key report
 * "unchanged" and keep the old protection. Absent is fine.
 */
static pn_err delete_key(pn_gpg *gpg, const char *fpr,
    char (*extra)[PN_GPG_GRIP_LEN + 1], int nextra)
{
	char (*grips)[PN_GPG_GRIP_LEN + 1] = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	pn_err rc = PN_OK;
	int n = 0, cap = nextra;

	err = get_key(gpg, fpr, 0, &key);
	if (err && gpg_err_code(err) != GPG_ERR_EOF && gpg_err_code(err) != GPG_ERR_NO_PUBKEY)
		return map_err(gpg, err, "delete");
	if (key)
		for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
			cap++;
	if (cap > 0)
		grips = pn_calloc((size_t)cap, sizeof(*grips));
	if (key) {
		for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
			if (sk->keygrip && strlen(sk->keygrip) == PN_GPG_GRIP_LEN)
				memcpy(grips[n++], sk->keygrip, PN_GPG_GRIP_LEN + 1);
		err = gpgme_op_delete_ext(gpg->ctx, key,
		    GPGME_DELETE_ALLOW_SECRET | GPGME_DELETE_FORCE);
		key_release(&key);
		if (err && gpg_err_code(err) != GPG_ERR_NO_PUBKEY) {
			pn_warn("msg=\"gpg delete failed\" fpr=%s error=\"%s\"", fpr,
			    gpgme_strerror(err));
			rc = map_err(gpg, err, "delete");
		}
	}
	for (int i = 0; i < nextra; i++)
		if (extra[i][0])
			memcpy(grips[n++], extra[i], PN_GPG_GRIP_LEN + 1);
	if (agent_delete_grips(gpg, grips, n) < 0 && rc == PN_OK)
		rc = PN_ERR_INTERNAL;
	free(grips);
	return rc;
}

/* memo_find - the remembered import of exactly this blob, or NULL */
static memo *memo_find(pn_gpg *gpg, const uint8_t hash[32])
{
	for (int i = 0; i < PN_GPG_MEMO; i++)
		if (gpg->memo[i].used && !memcmp(gpg->memo[i].hash, hash, 32)) {
			gpg->memo[i].tick = ++gpg->tick;
			return &gpg->memo[i];
		}
	return NULL;
}

/* memo_forget - drop every memo of fingerprint fpr */
static void memo_forget(pn_gpg *gpg, const char *fpr)
{
	for (int i = 0; i < PN_GPG_MEMO; i++)
		if (gpg->memo[i].used && !strcmp(gpg->memo[i].fpr, fpr))
			memset(&gpg->memo[i], 0, sizeof(gpg->memo[i]));
}

/* memo_slot - a free slot, or the least recently used one */
static memo *memo_slot(pn_gpg *gpg)
{
	memo *best = &gpg->memo[0];

	for (int i = 0; i < PN_GPG_MEMO; i++) {
		if (!gpg->memo[i].used)
			return &gpg->memo[i];
		if (gpg->memo[i].tick < best->tick)
			best = &gpg->memo[i];
	}
	memset(best, 0, sizeof(*best));
	return best;
}

/* import_raw - gpgme import of key; the first key's fingerprint and counts */
static pn_err import_raw(pn_gpg *gpg, const void *key, size_t len,
    char fpr_r[PN_GPG_FPR_MAX], int *secret_read_r, int *secret_unchanged_r,
    int *secret_imported_r)
{
	gpgme_data_t in = NULL;
	gpgme_error_t err;
	gpgme_import_result_t res;
	pn_err rc = PN_ERR_INTERNAL;

	fpr_r[0] = '\0';
	if ((err = gpgme_data_new_from_mem(&in, key, len, 0)) != 0)
		goto fail;
	pass_set(gpg, NULL);
	if ((err = gpgme_op_import(gpg->ctx, in)) != 0)
		goto fail;
	res = gpgme_op_import_result(gpg->ctx);
	if (!res || res->considered == 0 || !res->imports) {
		rc = PN_ERR_PARAMS;
		goto done;
	}
	for (gpgme_import_status_t st = res->imports; st; st = st->next)
		if (st->fpr && st->result == 0) {
			snprintf(fpr_r, PN_GPG_FPR_MAX, "%s", st->fpr);
			break;
		}
	if (!fpr_r[0]) {
		rc = PN_ERR_PARAMS;
		goto done;
	}
	if (res->imported > 0)
		gpg->added += (unsigned long)res->imported;
	*secret_read_r = res->secret_read;
	*secret_unchanged_r = res->secret_unchanged;
	*secret_imported_r = res->secret_imported;
	rc = PN_OK;
	goto done;
fail:
	rc = map_err(gpg, err, "import");
done:
	data_release(&in);
	return rc;
}

/*
 * ensure_key - make the keyring hold exactly this key blob (public, or
 * with secret the protection it carries); returns its memo entry.
 */
static pn_err ensure_key(pn_gpg *gpg, const void *key, size_t len, int secret,
    memo **memo_r)
{
	uint8_t hash[32];
	char fpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0;
	gpgme_key_t k = NULL;
	gpgme_error_t err;
	pn_err rc;
	memo *m;

	if (!key || len == 0 || len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	crypto_generichash(hash, sizeof(hash), key, len, NULL, 0);
	if ((m = memo_find(gpg, hash)) && m->secret == secret) {
		*memo_r = m;
		return PN_OK;
	}
	if ((rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged, &simported)) != PN_OK)
		return rc;
	if (secret) {
		if (sread == 0)
			return PN_ERR_PARAMS;
		if (sunchanged > 0) {
			/* the agent holds this key, or some of its subkeys,
			 * under whatever protection it had then: counted per
			 * key, so "some imported, some unchanged" is stale too */
			memo_forget(gpg, fpr);
			if ((rc = delete_key(gpg, fpr, NULL, 0)) != PN_OK)
				return rc;
			if ((rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged,
			    &simported)) != PN_OK)
				return rc;
			if (simported == 0 || sunchanged > 0) {
				pn_warn("msg=\"stale secret key stays in gpg-agent\" fpr=%s", fpr);
				return PN_ERR_INTERNAL;
			}
		}
	}
	if ((err = get_key(gpg, fpr, 0, &k)) != 0)
		return map_err(gpg, err, "import");
	m = memo_slot(gpg);
	m->used = 1;
	m->secret = secret;
	m->tick = ++gpg->tick;
	memcpy(m->hash, hash, sizeof(hash));
	snprintf(m->fpr, sizeof(m->fpr), "%s", fpr);
	for (gpgme_subkey_t sk = k->subkeys; sk && m->nkeyids < PN_GPG_MAX_SUBKEYS;
	    sk = sk->next)
		if (sk->keyid)
			snprintf(m->keyids[m->nkeyids++], 17, "%s", sk->keyid);
	key_release(&k);
	*memo_r = m;
	return PN_OK;
}

/* pn_gpg_note_public - remember a public key another handle imported */
void pn_gpg_note_public(pn_gpg *gpg, const void *key, size_t len, const char *fpr)
{
	uint8_t hash[32];
	memo *m;

	if (!key || len == 0 || !fpr || !*fpr || strlen(fpr) >= PN_GPG_FPR_MAX)
		return;
	crypto_generichash(hash, sizeof(hash), key, len, NULL, 0);
	if (memo_find(gpg, hash))
		return;
	m = memo_slot(gpg);
	m->used = 1;
	m->secret = 0;
	m->tick = ++gpg->tick;
	memcpy(m->hash, hash, sizeof(hash));
	snprintf(m->fpr, sizeof(m->fpr), "%s", fpr);
}

/* export_keys - export of the keys patterns names (mode: 0, MINIMAL or SECRET), armored or binary */
static pn_err export_keys(pn_gpg *gpg, const char **patterns, gpgme_export_mode_t mode,
    int armored, pn_buf *out)
{
	gpgme_data_t dh = NULL;
	gpgme_error_t err;
	sink s;
	pn_err rc;

	if ((err = sink_open(&s, &dh)) != 0)
		goto fail;
	gpgme_set_armor(gpg->ctx, armored);
	err = gpgme_op_export_ext(gpg->ctx, patterns, mode, dh);
	gpgme_set_armor(gpg->ctx, 1);
	if (err)
		goto fail;
	if (s.len == 0) {
		rc = PN_ERR_NOTFOUND;
		goto done;
	}
	data_release(&dh);
	sink_take(&s, out);
	return PN_OK;
fail:
	rc = s.overflow ? PN_ERR_TOOLARGE : map_err(gpg, err, "export");
done:
	data_release(&dh);
	sink_wipe(&s);
	return rc;
}

/* export_key - armored export of fpr (mode: 0, MINIMAL or SECRET) */
static pn_err export_key(pn_gpg *gpg, const char *fpr, gpgme_export_mode_t mode,
    pn_buf *out)
{
	const char *patterns[2] = { fpr, NULL };

	return export_keys(gpg, patterns, mode, 1, out);
}

/*
 * revocation_remove - gpg stores a revocation certificate for every key it
 * generates (openpgp-revocs.d/<fpr>.rev); of a key that was removed it is
 * only litter, one file per key ever made.
 */
static void revocation_remove(pn_gpg *gpg, const char *fpr)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/openpgp-revocs.d/%s.rev", gpg->homedir, fpr);
	if (unlink(path) < 0 && errno != ENOENT)
		pn_debug("msg=\"cannot remove revocation certificate\" error=\"%s\"",
		    strerror(errno));
}

/* pn_gpg_keygen - ed25519 + cv25519 for uid, exported and removed */
pn_err pn_gpg_keygen(pn_gpg *gpg, const char *uid, const char *passphrase,
    char **fpr_r, pn_buf *pub_r, pn_buf *sec_r)
{
	gpgme_error_t err;
	gpgme_genkey_result_t res;
	char fpr[PN_GPG_FPR_MAX] = "";
	pn_buf pub = { 0 }, sec = { 0 };
	pn_err rc;
	unsigned int flags = GPGME_CREATE_NOEXPIRE | GPGME_CREATE_FORCE;

	if (!uid || !*uid || strlen(uid) > 512 || strpbrk(uid, "\r\n"))
		return PN_ERR_PARAMS;
	if (passphrase && !pass_valid(passphrase))
		return PN_ERR_PARAMS;
	if (!passphrase || !*passphrase)
		flags |= GPGME_CREATE_NOPASSWD;
	pass_set(gpg, passphrase);
	err = gpgme_op_createkey(gpg->ctx, uid, "future-default", 0, 0, NULL, flags);
	if (err) {
		rc = map_err(gpg, err, "keygen");
		goto done;
	}
	res = gpgme_op_genkey_result(gpg->ctx);
	if (!res || !res->fpr) {
		rc = PN_ERR_INTERNAL;
		goto done;
	}
	snprintf(fpr, sizeof(fpr), "%s", res->fpr);
	if ((rc = export_key(gpg, fpr, 0, &pub)) != PN_OK)
		goto done;
	pass_set(gpg, passphrase);
	if ((rc = export_key(gpg, fpr, GPGME_EXPORT_MODE_SECRET, &sec)) != PN_OK)
		goto done;
	*fpr_r = pn_strdup(fpr);
	*pub_r = pub;
	*sec_r = sec;
	pub.data = sec.data = NULL;
	rc = PN_OK;
done:
	pass_clear(gpg);
	if (fpr[0] && delete_key(gpg, fpr, NULL, 0) != PN_OK)
		pn_warn("msg=\"generated key left in keyring\" fpr=%s", fpr);
	if (fpr[0])
		revocation_remove(gpg, fpr);
	pn_buf_free(&pub);
	pn_buf_free(&sec);
	return rc;
}

/* ---- many keys in one run (pn_gpg_keygen_batch) ---- */

/*
 * pn_gpg_keygen costs five gpg runs per key (generate, export public,
 * export secret, find, delete). A batch makes n keys with one
 * "gpg --batch --gen-key" run whose parameter file has a block per key,
 * each with its own Passphrase and a Handle that gpg's KEY_CREATED line
 * names; it exports the public keys with one run and the secret keys with
 * one more, and leaves the keys where they are: the homedir is meant to
 * be thrown away whole (pn_gpg_remove), which also takes gpg's revocation
 * certificates and trust entries with it.
 *
 * The parameter file holds the passphrases, so we write it to gpg's stdin
 * (a socket: nothing on disk) from a buffer we wipe; GPGME's
 * gpgme_op_genkey would keep an unwiped copy. The secret export asks for
 * each key's passphrase with that key named (NEED_PASSPHRASE carries the
 * main key id), and pass_cb answers from a table by that id. gpg skips a
 * key it cannot unlock, silently, so nothing is taken on trust: both
 * exports are cut at their primary key packets; each public block's v4
 * fingerprint (SHA-1 over its key packet) must be one the generation
 * reported; each secret block's key packets must be that public block's
 * key packets followed by protected secret material (S2K usage 254 or
 * 255 and a real S2K - not GnuPG's "no secret here" stub), for the
 * primary key and every subkey. Each block is then armored the way gpg
 * armors the export of one key, byte for byte. The packet reading, the
 * fingerprint, the match and the armor are pure and live in openpgp.c.
 */

#define PN_GPG_MAX_BATCH 64
#define PN_GPG_BATCH_PASS_MAX 100   /* gpg-agent's loopback limit (INQUIRE_MAXLEN) */

/* param_ok - a parameter file value: 1..max printable ASCII, no space at either end */
static int param_ok(const char *s, size_t max, const char *forbid)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || (forbid && strchr(forbid, s[i])))
			return 0;
	return 1;
}

/* genkey_params - the parameter file: one block per key (pn_malloc'd, the caller wipes it) */
static char *genkey_params(const char *name, const pn_gpg_newkey *keys, size_t n,
    size_t *len_r)
{
	size_t cap = 1, len = 0;
	char *p;

	for (size_t i = 0; i < n; i++)
		cap += 256 + strlen(name) + strlen(keys[i].passphrase);
	p = pn_malloc(cap);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(p + len, cap - len,
		    "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
		    "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
		    "Name-Real: %s\nExpire-Date: 0\nPassphrase: %s\nHandle: k%zu\n%%commit\n",
		    name, keys[i].passphrase, i);
	*len_r = len;
	return p;
}

/* close_fd - close *fd if open and mark it closed */
static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* child_fd - fd moved to 10 or above (close-on-exec), so that dup2 in the child always copies */
static int child_fd(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return high;
}

/* What a batch generation run has seen so far. */
typedef struct genkey_io {
	const pn_gpg_newkey *keys;
	size_t n;
	char (*fpr)[PN_GPG_FPR_MAX]; /* by handle */
	size_t made;                /* KEY_CREATED */
	size_t done;                /* KEY_CREATED and KEY_NOT_CREATED: the block now is keys[done] */
	int cmd;                    /* gpg's --command-fd, -1 once closed */
	int bad;                    /* the agent refused an answer */
	char errors[256];
} genkey_io;

/* genkey_note - keep a status line that says why for the log (gpg's words and codes only) */
static void genkey_note(genkey_io *io, const char *what)
{
	size_t len = strlen(io->errors);

	if (len + 3 < sizeof(io->errors))
		snprintf(io->errors + len, sizeof(io->errors) - len, "%s%.*s", len ? "; " : "",
		    (int)(sizeof(io->errors) - len - 3), what);
}

/* genkey_created - "KEY_CREATED <type> <fpr> k<i>": fpr is block i's key */
static void genkey_created(genkey_io *io, const char *args)
{
	const char *p = strchr(args, ' ');
	char *end;
	size_t idx;

	io->done++;
	if (!p || strspn(p + 1, "0123456789ABCDEF") != 40 || p[41] != ' ' || p[42] != 'k')
		return;
	errno = 0;
	idx = strtoul(p + 43, &end, 10);
	if (errno || *end || end == p + 43 || idx >= io->n || io->fpr[idx][0])
		return;
	memcpy(io->fpr[idx], p + 1, 40);
	io->fpr[idx][40] = '\0';
	io->made++;
}

/*
 * genkey_answer - gpg asks for a passphrase while it makes a key: the
 * agent lost the new key's passphrase between making the key and signing
 * its user id and subkey (its cache nonce ends with the clock's second
 * under our max-cache-ttl 0). gpg makes the blocks one after the other,
 * so the key is the current block's: answer with its passphrase. A wrong
 * answer could only make that key fail, never protect it differently
 * (protection comes from the Passphrase line). Anything else we do not
 * answer: the command fd closes and gpg gives up.
 */
static void genkey_answer(genkey_io *io, const char *args)
{
	const char *p;

	if (io->cmd < 0)
		return;
	if (strcmp(args, "passphrase.enter") || io->bad || io->done >= io->n) {
		close_fd(&io->cmd);
		return;
	}
	pn_debug("msg=\"gpg asks again for the passphrase of the key it makes\" block=%zu",
	    io->done);
	p = io->keys[io->done].passphrase;
	if (send(io->cmd, p, strlen(p), MSG_NOSIGNAL) < 0 ||
	    send(io->cmd, "\n", 1, MSG_NOSIGNAL) < 0)
		close_fd(&io->cmd);
}

/* genkey_status - one status line of the generation */
static void genkey_status(genkey_io *io, const char *line)
{
	const char *w;

	if (strncmp(line, "[GNUPG:] ", 9))
		return;
	w = line + 9;
	if (!strncmp(w, "KEY_CREATED ", 12)) {
		genkey_created(io, w + 12);
	} else if (!strncmp(w, "KEY_NOT_CREATED", 15)) {
		io->done++;
		genkey_note(io, w);
	} else if (!strncmp(w, "GET_HIDDEN ", 11)) {
		genkey_answer(io, w + 11);
	} else if (!strncmp(w, "GET_", 4)) {
		genkey_answer(io, "");
	} else if (!strncmp(w, "BAD_PASSPHRASE", 14)) {
		io->bad = 1;
		genkey_note(io, "BAD_PASSPHRASE");
	} else if (!strncmp(w, "ERROR ", 6) || !strncmp(w, "FAILURE ", 8)) {
		genkey_note(io, w);
	}
}

/*
 * genkey_run - "gpg --batch --gen-key" with params on its stdin (keys[i]
 * is the block with "Handle: k<i>") and its prompts answered on a command
 * fd; fpr_r[i] is key i's fingerprint. PN_OK only if all n were made.
 */
static pn_err genkey_run(pn_gpg *gpg, const char *params, size_t len,
    const pn_gpg_newkey *keys, char (*fpr_r)[PN_GPG_FPR_MAX], size_t n)
{
	extern char **environ;
	gpgme_engine_info_t info;
	const char *file = NULL;
	posix_spawn_file_actions_t fa;
	int sv[2] = { -1, -1 }, cv[2] = { -1, -1 }, st[2] = { -1, -1 }, status = 0, rc_spawn;
	int in = -1, rd = -1;
	pid_t pid = -1;
	char line[512];
	size_t ll = 0, off = 0;
	genkey_io io = { .keys = keys, .n = n, .fpr = fpr_r, .cmd = -1 };

	for (info = gpgme_ctx_get_engine_info(gpg->ctx); info; info = info->next)
		if (info->protocol == GPGME_PROTOCOL_OpenPGP)
			file = info->file_name;
	if (!file)
		file = "gpg";
	char *const argv[] = { "gpg", "--homedir", gpg->homedir, "--batch", "--no-tty", "--yes",
		"--pinentry-mode", "loopback", "--status-fd", "3", "--command-fd", "4",
		"--gen-key", NULL };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0) {
		pn_warn("msg=\"cannot make pipes for gpg\" error=\"%s\"", strerror(errno));
		goto done;
	}
	in = sv[0];
	io.cmd = cv[0];
	rd = st[0];
	if ((sv[1] = child_fd(sv[1])) < 0 || (st[1] = child_fd(st[1])) < 0 ||
	    (cv[1] = child_fd(cv[1])) < 0)
		goto done;
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto done;
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, st[1], 3);
	posix_spawn_file_actions_adddup2(&fa, cv[1], 4);
	posix_spawn_file_actions_addclosefrom_np(&fa, 5);
	rc_spawn = (file[0] == '/' ? posix_spawn : posix_spawnp)(&pid, file, &fa, NULL,
	    argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc_spawn != 0) {
		pn_warn("msg=\"cannot start gpg\" error=\"%s\"", strerror(rc_spawn));
		pid = -1;
		goto done;
	}
	close_fd(&sv[1]);
	close_fd(&st[1]);
	close_fd(&cv[1]);
	/* write the parameters while reading the status lines (no deadlock
	 * whatever the buffer sizes) */
	while (rd >= 0) {
		struct pollfd pf[2] = { { rd, POLLIN, 0 }, { in, POLLOUT, 0 } };
		if (poll(pf, in >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (in >= 0 && pf[1].revents) {
			ssize_t w = send(in, params + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				off += (size_t)w;
			/* all written, or gpg is gone: its status tells */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == len)
				close_fd(&in);
		}
		if (pf[0].revents) {
			char buf[1024];
			ssize_t r = read(rd, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			for (ssize_t i = 0; i < r; i++) {
				if (buf[i] != '\n') {
					if (ll < sizeof(line) - 1)
						line[ll++] = buf[i];
					continue;
				}
				line[ll] = '\0';
				genkey_status(&io, line);
				ll = 0;
			}
		}
	}
done:
	close_fd(&in);
	close_fd(&rd);
	close_fd(&io.cmd);
	close_fd(&sv[1]);
	close_fd(&st[1]);
	close_fd(&cv[1]);
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && io.made == n)
		return PN_OK;
	if (pid > 0)
		pn_warn("msg=\"gpg key generation failed\" exit=%d made=%zu of=%zu status=\"%s\"",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1, io.made, n, io.errors);
	return PN_ERR_INTERNAL;
}

/* batch_free - what a failed batch had handed out so far */
static void batch_free(pn_gpg_newkey *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pn_free(&keys[i].fpr);
		pn_buf_free(&keys[i].pub);
		pn_buf_free(&keys[i].sec);
	}
}

/* pn_gpg_keygen_batch - n protected keys with one generation and two export runs */
pn_err pn_gpg_keygen_batch(pn_gpg *gpg, const char *name, pn_gpg_newkey *keys, size_t n)
{
	char (*fprs)[PN_GPG_FPR_MAX] = NULL, (*keyids)[17] = NULL, fpr[41];
	const char **patterns = NULL, **passes = NULL;
	pn_openpgp_key *pb = NULL, *sb = NULL;
	char *sused = NULL;
	pn_buf pubbin = { 0 }, secbin = { 0 };
	char *params;
	size_t plen = 0;
	pn_err rc;

	if (!keys || n == 0 || n > PN_GPG_MAX_BATCH || !param_ok(name, 256, "<>()"))
		return PN_ERR_PARAMS;
	for (size_t i = 0; i < n; i++) {
		keys[i].fpr = NULL;
		keys[i].pub = keys[i].sec = (pn_buf){ NULL, 0 };
	}
	for (size_t i = 0; i < n; i++)
		if (!param_ok(keys[i].passphrase, PN_GPG_BATCH_PASS_MAX, NULL))
			return PN_ERR_PARAMS;
	fprs = pn_calloc(n, sizeof(*fprs));
	keyids = pn_calloc(n, sizeof(*keyids));
	patterns = pn_calloc(n + 1, sizeof(*patterns));
	passes = pn_calloc(n, sizeof(*passes));
	pb = pn_calloc(n, sizeof(*pb));
	sb = pn_calloc(n, sizeof(*sb));
	sused = pn_calloc(n, 1);

	params = genkey_params(name, keys, n, &plen);
	rc = genkey_run(gpg, params, plen, keys, fprs, n);
	pn_wipe(params, plen);
	free(params);
	if (rc != PN_OK)
		goto done;
	for (size_t i = 0; i < n; i++) {
		patterns[i] = fprs[i];
		memcpy(keyids[i], fprs[i] + 24, 17);
		passes[i] = keys[i].passphrase;
	}
	if ((rc = export_keys(gpg, patterns, 0, 0, &pubbin)) != PN_OK)
		goto done;
	pass_set(gpg, NULL);
	gpg->ps.keyids = (const char (*)[17])keyids;
	gpg->ps.passes = passes;
	gpg->ps.nkeys = n;
	rc = export_keys(gpg, patterns, GPGME_EXPORT_MODE_SECRET, 0, &secbin);
	pass_clear(gpg);
	if (rc != PN_OK)
		goto done;
	rc = PN_ERR_INTERNAL;
	if (pn_openpgp_split_keys(pubbin.data, pubbin.len, PN_OPENPGP_TAG_PUBLIC_KEY, pb, n) < 0 ||
	    pn_openpgp_split_keys(secbin.data, secbin.len, PN_OPENPGP_TAG_SECRET_KEY, sb, n) < 0) {
		pn_warn("msg=\"batch export does not hold every key\" keys=%zu", n);
		goto done;
	}
	for (size_t j = 0; j < n; j++) {
		size_t i = n, m = n;
		if (pn_openpgp_fingerprint(&pb[j], fpr) == 0)
			for (i = 0; i < n && (keys[i].fpr || strcmp(fprs[i], fpr)); i++)
				;
		if (i < n)
			for (m = 0; m < n && (sused[m] || !pn_openpgp_secret_matches(&pb[j], &sb[m]));
			    m++)
				;
		if (i == n || m == n) {
			pn_warn("msg=\"batch export does not match the keys made\" keys=%zu", n);
			goto done;
		}
		sused[m] = 1;
		keys[i].fpr = pn_strdup(fprs[i]);
		keys[i].pub.data = (uint8_t *)pn_openpgp_armor(pb[j].data, pb[j].len,
		    "PUBLIC KEY BLOCK", &keys[i].pub.len);
		keys[i].sec.data = (uint8_t *)pn_openpgp_armor(sb[m].data, sb[m].len,
		    "PRIVATE KEY BLOCK", &keys[i].sec.len);
		if (!keys[i].pub.data || !keys[i].sec.data)
			goto done;
	}
	rc = PN_OK;
done:
	pass_clear(gpg);
	if (rc != PN_OK)
		batch_free(keys, n);
	pn_buf_free(&pubbin);
	pn_buf_free(&secbin);
	free(fprs);
	free(keyids);
	free(patterns);
	free(passes);
	free(pb);
	free(sb);
	free(sused);
	return rc;
}

/* pn_gpg_import_public_all - n public keys in one run */
pn_err pn_gpg_import_public_all(pn_gpg *gpg, const void *keys, size_t len, size_t n)
{
	gpgme_data_t in = NULL;
	gpgme_error_t err;
	gpgme_import_result_t res;
	size_t ok = 0;
	pn_err rc;

	if (!keys || len == 0 || len > PN_GPG_MAX_INPUT || n == 0)
		return PN_ERR_PARAMS;
	if (memmem(keys, len, "PRIVATE KEY BLOCK", 17))
		return PN_ERR_PERM;
	if ((err = gpgme_data_new_from_mem(&in, keys, len, 0)) != 0)
		goto fail;
	pass_set(gpg, NULL);
	if ((err = gpgme_op_import(gpg->ctx, in)) != 0)
		goto fail;
	res = gpgme_op_import_result(gpg->ctx);
	if (!res || res->considered == 0) {
		rc = res ? PN_ERR_PARAMS : PN_ERR_INTERNAL;
		goto done;
	}
	if (res->imported > 0)
		gpg->added += (unsigned long)res->imported;
	if (res->secret_read > 0) {
		for (gpgme_import_status_t st = res->imports; st; st = st->next)
			if (st->fpr) {
				memo_forget(gpg, st->fpr);
				if (delete_key(gpg, st->fpr, NULL, 0) != PN_OK)
					pn_warn("msg=\"refused secret key left in keyring\" fpr=%s",
					    st->fpr);
			}
		rc = PN_ERR_PERM;
		goto done;
	}
	for (gpgme_import_status_t st = res->imports; st; st = st->next)
		if (st->fpr && st->result == 0)
			ok++;
	if (res->considered < 0 || (size_t)res->considered != n || ok != n) {
		pn_warn("msg=\"import incomplete\" keys=%zu considered=%d imported=%zu", n,
		    res->considered, ok);
		rc = PN_ERR_INTERNAL;
		goto done;
	}
	rc = PN_OK;
	goto done;
fail:
	rc = map_err(gpg, err, "import");
done:
	pass_clear(gpg);
	data_release(&in);
	return rc;
}

/* pn_gpg_keys_added - keys this handle's imports added to its keyring */
unsigned long pn_gpg_keys_added(const pn_gpg *gpg)
{
	return gpg ? gpg->added : 0;
}

/* pn_gpg_import - import key material; fingerprint of the first key */
pn_err pn_gpg_import(pn_gpg *gpg, const void *key, size_t len, char **fpr_r)
{
	char fpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0;
	pn_err rc;

	if (!key || len == 0 || len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged, &simported);
	pass_clear(gpg);
	if (rc != PN_OK)
		return rc;
	if (fpr_r)
		*fpr_r = pn_strdup(fpr);
	return PN_OK;
}

/* pn_gpg_import_public - import public keys only; secret material is refused and removed */
pn_err pn_gpg_import_public(pn_gpg *gpg, const void *key, size_t len, char **fpr_r)
{
	char fpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0;
	pn_err rc;

	if (!key || len == 0 || len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	if (memmem(key, len, "PRIVATE KEY BLOCK", 17))
		return PN_ERR_PERM;
	rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged, &simported);
	pass_clear(gpg);
	if (rc != PN_OK)
		return rc;
	if (sread > 0) {
		memo_forget(gpg, fpr);
		if (delete_key(gpg, fpr, NULL, 0) != PN_OK)
			pn_warn("msg=\"refused secret key left in keyring\" fpr=%s", fpr);
		return PN_ERR_PERM;
	}
	if (fpr_r)
		*fpr_r = pn_strdup(fpr);
	return PN_OK;
}

/* encrypt_once - ensure the key is in the keyring and encrypt to it */
static pn_err encrypt_once(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r, char *fpr_r)
{
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t err;
	gpgme_encrypt_result_t res;
	memo *m = NULL;
	sink s = { 0 };
	pn_err rc;
	char recp[PN_GPG_FPR_MAX + 2];

	if (!plain || plain_len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, pubkey, pubkey_len, 0, &m)) != PN_OK)
		return rc;
	snprintf(recp, sizeof(recp), "%s", m->fpr);
	snprintf(fpr_r, PN_GPG_FPR_MAX, "%s", m->fpr);
	memset(&s, 0, sizeof(s));
	s.max = PN_GPG_MAX_OUTPUT;
	if ((rc = srv_encrypt(gpg, recp, plain, plain_len, &s)) != PN_ERR_TEMP) {
		if (rc == PN_OK)
			sink_take(&s, cipher_r);
		goto done;
	}
	sink_wipe(&s);
	if ((err = gpgme_data_new_from_mem(&in, plain, plain_len, 0)) != 0)
		goto fail;
	if ((err = sink_open(&s, &out)) != 0)
		goto fail;
	pass_set(gpg, NULL);
	err = gpgme_op_encrypt_ext(gpg->ctx, NULL, recp,
	    GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS, in, out);
	res = gpgme_op_encrypt_result(gpg->ctx);
	if (res && res->invalid_recipients) {
		rc = PN_ERR_PARAMS;
		goto done;
	}
	if (err)
		goto fail;
	data_release(&out);
	sink_take(&s, cipher_r);
	rc = PN_OK;
	goto done;
fail:
	rc = s.overflow ? PN_ERR_TOOLARGE : map_err(gpg, err, "encrypt");
done:
	data_release(&in);
	data_release(&out);
	sink_wipe(&s);
	return rc;
}

/*
 * pn_gpg_encrypt - encrypt to one public key, armored, uncompressed. If
 * the key this handle imported earlier has gone from the keyring (removed
 * by another user of the homedir), it is imported again and tried once more.
 */
pn_err pn_gpg_encrypt(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r)
{
	char fpr[PN_GPG_FPR_MAX] = "";
	pn_err rc = encrypt_once(gpg, pubkey, pubkey_len, plain, plain_len, cipher_r, fpr);

	if (rc == PN_ERR_PARAMS && fpr[0] && !pn_gpg_key_usable(gpg, fpr)) {
		memo_forget(gpg, fpr);
		rc = encrypt_once(gpg, pubkey, pubkey_len, plain, plain_len, cipher_r, fpr);
	}
	return rc;
}

/* for_key - was the message (per the decrypt result) encrypted to memo m? */
static int for_key(const memo *m, gpgme_decrypt_result_t res)
{
	if (!res)
		return 0;
	for (gpgme_recipient_t r = res->recipients; r; r = r->next)
		for (int i = 0; i < m->nkeyids; i++)
			if (r->keyid && !strcasecmp(r->keyid, m->keyids[i]))
				return 1;
	return 0;
}

/* decrypt_once - one decrypt; stale_fpr_r set when our key was missing */
static pn_err decrypt_once(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *passphrase, const void *cipher, size_t cipher_len,
    pn_buf *plain_r, char *stale_fpr_r)
{
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t err;
	gpgme_decrypt_result_t res;
	memo *m = NULL;
	sink s = { 0 };
	pn_err rc;

	if (!cipher || cipher_len == 0 || cipher_len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	if (passphrase && !pass_valid(passphrase))
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, seckey, seckey_len, 1, &m)) != PN_OK)
		return rc;
	if ((err = gpgme_data_new_from_mem(&in, cipher, cipher_len, 0)) != 0)
		goto fail;
	if ((err = sink_open(&s, &out)) != 0)
		goto fail;
	pass_set(gpg, passphrase);
	gpg->ps.need_hint = 1;
	err = gpgme_op_decrypt(gpg->ctx, in, out);
	res = gpgme_op_decrypt_result(gpg->ctx);
	if (err) {
		if (s.overflow) {
			rc = PN_ERR_TOOLARGE;
			goto done;
		}
		if (!for_key(m, res)) {
			rc = PN_ERR_PARAMS;     /* not OpenPGP, or not for this key */
			goto done;
		}
		if (gpg->ps.calls > 0 && gpg_err_code(err) != GPG_ERR_BAD_DATA &&
		    gpg_err_code(err) != GPG_ERR_INV_PACKET) {
			rc = PN_ERR_PERM;       /* asked for the passphrase and failed */
			goto done;
		}
		if (gpg->ps.calls == 0 && gpg_err_code(err) == GPG_ERR_NO_SECKEY) {
			/* for our key, yet no secret key: gone from the keyring */
			snprintf(stale_fpr_r, PN_GPG_FPR_MAX, "%s", m->fpr);
		}
		goto fail;
	}
	if (!for_key(m, res)) {
		rc = PN_ERR_PARAMS;
		goto done;
	}
	data_release(&out);
	sink_take(&s, plain_r);
	rc = PN_OK;
	goto done;
fail:
	rc = map_err(gpg, err, "decrypt");
	if (rc == PN_ERR_INTERNAL && gpg_err_code(err) == GPG_ERR_DECRYPT_FAILED)
		rc = PN_ERR_PARAMS;
done:
	pass_clear(gpg);
	data_release(&in);
	data_release(&out);
	sink_wipe(&s);
	return rc;
}

/*
 * pn_gpg_decrypt - decrypt with the given protected secret key; if the key
 * this handle imported has gone from the keyring, import it and try again.
 */
pn_err pn_gpg_decrypt(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *passphrase, const void *cipher, size_t cipher_len,
    pn_buf *plain_r)
{
	char stale[PN_GPG_FPR_MAX] = "";
	pn_err rc = decrypt_once(gpg, seckey, seckey_len, passphrase, cipher,
	    cipher_len, plain_r, stale);

	if (rc != PN_OK && stale[0]) {
		memo_forget(gpg, stale);
		stale[0] = '\0';
		rc = decrypt_once(gpg, seckey, seckey_len, passphrase, cipher,
		    cipher_len, plain_r, stale);
	}
	return rc;
}

/*
 * secret_grips - the key grips of fpr's keys that have secret material
 * (the primary key first); *n_r of them, at most max. PN_ERR_PARAMS if
 * there is none.
 */
static pn_err secret_grips(pn_gpg *gpg, const char *fpr,
    char (*grips)[PN_GPG_GRIP_LEN + 1], int max, int *n_r)
{
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	pn_err rc = PN_OK;
	int n = 0;

	*n_r = 0;
	if ((err = get_key(gpg, fpr, 1, &key)) != 0)
		return map_err(gpg, err, "passwd");
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next) {
		if (!sk->secret)
			continue;
		if (!sk->keygrip || strlen(sk->keygrip) != PN_GPG_GRIP_LEN || n == max) {
			rc = PN_ERR_PARAMS;
			break;
		}
		memcpy(grips[n++], sk->keygrip, PN_GPG_GRIP_LEN + 1);
	}
	key_release(&key);
	if (rc == PN_OK && n == 0)
		rc = PN_ERR_PARAMS;
	if (rc == PN_OK)
		*n_r = n;
	return rc;
}

/*
 * passwd_check - does the armored secret key blob carry secret material
 * for each of the n grips? The keyring and agent are emptied of fpr, the
 * blob imported and the agent asked for every grip; gpg's export skips a
 * subkey it cannot unlock with the passphrase given, silently, so this is
 * what tells a complete copy from a broken one. The export unlocked each
 * key it wrote with the new passphrase: a complete copy opens with it.
 */
static pn_err passwd_check(pn_gpg *gpg, const char *fpr, const pn_buf *blob,
    char (*grips)[PN_GPG_GRIP_LEN + 1], int n)
{
	char ifpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0, missing = 0;
	assuan_context_t ctx = NULL;
	pn_err rc;

	if ((rc = delete_key(gpg, fpr, grips, n)) != PN_OK)
		return rc;
	if ((rc = import_raw(gpg, blob->data, blob->len, ifpr, &sread, &sunchanged,
	    &simported)) != PN_OK)
		return rc;
	if (strcmp(ifpr, fpr) || sunchanged > 0 || simported == 0) {
		pn_warn("msg=\"re-protected key is incomplete\" fpr=%s keys=%d imported=%d "
		    "unchanged=%d", fpr, n, simported, sunchanged);
		return PN_ERR_INTERNAL;
	}
	if (agent_open(gpg, &ctx) != 0)
		return PN_ERR_INTERNAL;
	for (int i = 0; i < n; i++)
		if (!agent_has_key(ctx, grips[i]))
			missing++;
	assuan_release(ctx);
	if (missing) {
		pn_warn("msg=\"re-protected key is incomplete\" fpr=%s keys=%d missing=%d",
		    fpr, n, missing);
		return PN_ERR_INTERNAL;
	}
	return PN_OK;
}

/*
 * pn_gpg_passwd - re-protect a secret key: each of its keys in turn,
 * straight with the agent (see agent_passwd for why not through gpg),
 * then exported under the new passphrase, checked complete (passwd_check)
 * and removed from keyring and agent.
 */
pn_err pn_gpg_passwd(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *old_passphrase, const char *new_passphrase, pn_buf *sec_r)
{
	char grips[PN_GPG_MAX_SUBKEYS][PN_GPG_GRIP_LEN + 1];
	assuan_context_t ctx = NULL;
	memo *m = NULL;
	char fpr[PN_GPG_FPR_MAX] = "";
	pn_buf out = { 0 };
	int n = 0;
	pn_err rc;

	memset(grips, 0, sizeof(grips));
	if (!pass_valid(old_passphrase) || !pass_valid(new_passphrase) ||
	    !*new_passphrase)
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, seckey, seckey_len, 1, &m)) != PN_OK)
		return rc;
	snprintf(fpr, sizeof(fpr), "%s", m->fpr);
	memo_forget(gpg, fpr);          /* whatever happens, the keyring changes */
	if ((rc = secret_grips(gpg, fpr, grips, PN_GPG_MAX_SUBKEYS, &n)) != PN_OK)
		goto done;
	if (agent_open(gpg, &ctx) != 0) {
		rc = PN_ERR_INTERNAL;
		goto done;
	}
	for (int i = 0; i < n && rc == PN_OK; i++)
		rc = agent_passwd(ctx, grips[i], old_passphrase, new_passphrase);
	assuan_release(ctx);
	if (rc != PN_OK)
		goto done;
	pass_set(gpg, new_passphrase);
	if ((rc = export_key(gpg, fpr, GPGME_EXPORT_MODE_SECRET, &out)) != PN_OK)
		goto done;
	pass_clear(gpg);
	if ((rc = passwd_check(gpg, fpr, &out, grips, n)) != PN_OK)
		goto done;
	*sec_r = out;
	out.data = NULL;
	out.len = 0;
done:
	pass_clear(gpg);
	pn_buf_free(&out);
	if (fpr[0] && delete_key(gpg, fpr, grips, n) != PN_OK)
		pn_warn("msg=\"re-protected key left in keyring\" fpr=%s", fpr);
	return rc;
}

/* key_usable - valid, unexpired, unrevoked, with such an encryption subkey */
static int key_usable(gpgme_key_t key)
{
	if (!key || key->revoked || key->expired || key->disabled || key->invalid)
		return 0;
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
		if (sk->can_encrypt && !sk->revoked && !sk->expired &&
		    !sk->disabled && !sk->invalid)
			return 1;
	return 0;
}

/* newest_enc - creation time of the newest usable encryption subkey */
static long newest_enc(gpgme_key_t key)
{
	long t = 0;
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
		if (sk->can_encrypt && !sk->revoked && !sk->expired &&
		    !sk->disabled && !sk->invalid && sk->timestamp > t)
			t = sk->timestamp;
	return t;
}

/* pn_gpg_key_usable - does the keyring key fpr have a usable encryption subkey? */
int pn_gpg_key_usable(pn_gpg *gpg, const char *fpr)
{
	gpgme_key_t key = NULL;
	int ok;

	if (!fpr || !*fpr || get_key(gpg, fpr, 0, &key) != 0)
		return 0;
	ok = key_usable(key);
	key_release(&key);
	return ok;
}

/* uid_matches - a valid, unrevoked user id of key with exactly this address */
static int uid_matches(gpgme_key_t key, const char *address)
{
	for (gpgme_user_id_t u = key->uids; u; u = u->next)
		if (!u->revoked && !u->invalid && u->address &&
		    !strcasecmp(u->address, address))
			return 1;
	return 0;
}

/*
 * find_keys_scan - one keyring scan for n addresses: fpr_r[i] (caller
 * frees) and pub_r[i] for each address with a usable key, NULL otherwise.
 */
static pn_err find_keys_scan(pn_gpg *gpg, const char *const *addresses, size_t n,
    char **fpr_r, pn_buf *pub_r)
{
	const char **patterns = NULL;
	gpgme_key_t *best = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	pn_err rc = PN_OK;
	size_t i;

	if (n == 0)
		return PN_OK;
	if (n > PN_GPG_MAX_FIND)
		return PN_ERR_TOOLARGE;
	patterns = pn_calloc(n + 1, sizeof(*patterns));
	best = pn_calloc(n, sizeof(*best));
	for (i = 0; i < n; i++) {
		fpr_r[i] = NULL;
		memset(&pub_r[i], 0, sizeof(pub_r[i]));
		if (!addresses[i] || !*addresses[i] || strpbrk(addresses[i], "<>\r\n")) {
			rc = PN_ERR_PARAMS;
			goto done;
		}
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(addresses[i]) + 3;
		char *p = pn_malloc(len);
		snprintf(p, len, "<%s>", addresses[i]);
		patterns[i] = p;
	}
	pass_set(gpg, NULL);
	if ((err = gpgme_op_keylist_ext_start(gpg->ctx, patterns, 0, 0)) != 0)
		goto fail;
	while ((err = gpgme_op_keylist_next(gpg->ctx, &key)) == 0) {
		if (key_usable(key)) {
			for (i = 0; i < n; i++) {
				if (!uid_matches(key, addresses[i]))
					continue;
				if (!best[i] || newest_enc(key) > newest_enc(best[i])) {
					key_release(&best[i]);
					gpgme_key_ref(key);
					best[i] = key;
				}
			}
		}
		key_release(&key);
	}
	if (gpg_err_code(err) != GPG_ERR_EOF) {
		gpgme_op_keylist_end(gpg->ctx);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (!best[i] || !best[i]->fpr)
			continue;
		if ((rc = export_key(gpg, best[i]->fpr, GPGME_EXPORT_MODE_MINIMAL,
		    &pub_r[i])) != PN_OK)
			goto done;
		fpr_r[i] = pn_strdup(best[i]->fpr);
	}
	goto done;
fail:
	rc = map_err(gpg, err, "keylist");
done:
	if (rc != PN_OK)
		for (i = 0; i < n; i++) {
			pn_free(&fpr_r[i]);
			pn_buf_free(&pub_r[i]);
		}
	for (i = 0; i < n; i++) {
		if (patterns && patterns[i])
			free((void *)patterns[i]);
		if (best)
			key_release(&best[i]);
	}
	free(patterns);
	free(best);
	return rc;
}

/*
 * pn_gpg_find_keys - find_keys_scan, remembering its answers: a keyring
 * scan forks gpg twice (list, export), and keylookup asks for every send
 * event. An answer is reused while the keyring file is the same file,
 * unchanged (inode, size, mtime) and for at most PN_GPG_FIND_TTL seconds,
 * which bounds how late a key's expiry is noticed; any import or deletion
 * changes the file and forgets everything.
 */
pn_err pn_gpg_find_keys(pn_gpg *gpg, const char *const *addresses, size_t n,
    char **fpr_r, pn_buf *pub_r)
{
	unsigned long stamp[5];
	const char **miss = NULL;
	size_t *where = NULL, nmiss = 0, i;
	char **mfpr = NULL;
	pn_buf *mpub = NULL;
	time_t now = time(NULL);
	pn_err rc = PN_OK;

	if (n == 0)
		return PN_OK;
	if (n > PN_GPG_MAX_FIND)
		return PN_ERR_TOOLARGE;
	for (i = 0; i < n; i++) {
		fpr_r[i] = NULL;
		memset(&pub_r[i], 0, sizeof(pub_r[i]));
		if (!addresses[i] || !*addresses[i] || strpbrk(addresses[i], "<>\r\n"))
			return PN_ERR_PARAMS;
	}
	if (!gpg->found)
		gpg->found = pn_calloc(PN_GPG_FIND_SLOTS, sizeof(*gpg->found));
	keyring_stamp(gpg, stamp);
	if (memcmp(stamp, gpg->found_stamp, sizeof(stamp))) {
		found_flush(gpg);
		memcpy(gpg->found_stamp, stamp, sizeof(stamp));
	}
	miss = pn_calloc(n, sizeof(*miss));
	where = pn_calloc(n, sizeof(*where));
	for (i = 0; i < n; i++) {
		found *f = found_slot(gpg, addresses[i]);
		if (f->address && !strcmp(f->address, addresses[i]) &&
		    now >= f->at && now - f->at < PN_GPG_FIND_TTL) {
			if (f->fpr) {
				fpr_r[i] = pn_strdup(f->fpr);
				pub_r[i].data = pn_memdup(f->pub.data, f->pub.len + 1);
				pub_r[i].len = f->pub.len;
			}
			continue;
		}
		where[nmiss] = i;
		miss[nmiss++] = addresses[i];
	}
	if (nmiss > 0) {
		mfpr = pn_calloc(nmiss, sizeof(*mfpr));
		mpub = pn_calloc(nmiss, sizeof(*mpub));
		if ((rc = find_keys_scan(gpg, miss, nmiss, mfpr, mpub)) != PN_OK) {
			for (i = 0; i < n; i++) {
				pn_free(&fpr_r[i]);
				pn_buf_free(&pub_r[i]);
			}
			goto done;
		}
		for (size_t k = 0; k < nmiss; k++) {
			found *f = found_slot(gpg, miss[k]);
			found_clear(f);
			f->address = pn_strdup(miss[k]);
			f->at = now;
			if (mfpr[k]) {
				f->fpr = pn_strdup(mfpr[k]);
				f->pub.data = pn_memdup(mpub[k].data, mpub[k].len + 1);
				f->pub.len = mpub[k].len;
			}
			fpr_r[where[k]] = mfpr[k];
			pub_r[where[k]] = mpub[k];
			mfpr[k] = NULL;
			memset(&mpub[k], 0, sizeof(mpub[k]));
		}
	}
done:
	free(mfpr);
	free(mpub);
	free(miss);
	free(where);
	return rc;
}

/* pn_gpg_find_key - keyring lookup of one address */
pn_err pn_gpg_find_key(pn_gpg *gpg, const char *address, char **fpr_r,
    pn_buf *pub_r)
{
	const char *a[1] = { address };
	char *fpr = NULL;
	pn_buf pub = { 0 };
	pn_err rc = pn_gpg_find_keys(gpg, a, 1, &fpr, &pub);

	if (rc != PN_OK)
		return rc;
	if (!fpr)
		return PN_ERR_NOTFOUND;
	*fpr_r = fpr;
	*pub_r = pub;
	return PN_OK;
}
