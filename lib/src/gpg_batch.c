/*
 * gpg_batch.c - many keys in one gpg run: pn_gpg_keygen_batch (gpg.h).
 *
 * provision's key pool makes keys in batches (one generation run and two
 * export runs for up to 64 keys, each with its own passphrase) in a
 * homedir that pn_gpg_remove then deletes whole. This file runs gpg
 * itself for the generation (the parameter file holds passphrases and
 * must not be copied by GPGME), reads its status lines, and checks the
 * exports with the pure OpenPGP code of openpgp.c before any key is
 * handed out; how the passphrases travel and how the exports are checked
 * is told below.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gpgme.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/openpgp.h"
#include "gpg_int.h"

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

/*
 * Keys gpg-agent cannot use. gpg-agent 2.2.40 now and then makes a key
 * that it cannot unprotect itself: right after GENKEY stored it, with
 * the passphrase it was made with, the agent answers "Corrupted
 * protection" (the check value over the decrypted key does not match).
 * About one key in a few thousand (tests/it/keypool_stress_test.c:
 * once in 300 to 800 batches of eight); it is the key, not the moment -
 * every later try with that key fails the same way. A bad primary key
 * fails its own self-signature during generation (KEY_NOT_CREATED for
 * that block, the others are fine); a bad encryption subkey passes
 * generation and fails the secret export, which then fails whole. Once
 * the whole batch went with it. Now only that key is made again: the
 * blocks that were not created go into one more generation run, and
 * when the batch's export fails or does not pass the checks below (a key
 * whose secret came out incomplete: seen once in 800 batches under ASan)
 * each key is exported alone and checked, and the ones that fail are
 * made again. PN_GPG_BATCH_ROUNDS rounds at most; the keys handed out
 * are still only those the export checks accept.
 */
#define PN_GPG_BATCH_ROUNDS 4

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

/*
 * genkey_params - the parameter file: block j makes key idx[j], with the
 * handle k<idx[j]> (pn_malloc'd, the caller wipes it)
 */
static char *genkey_params(const char *name, const pn_gpg_newkey *keys, const size_t *idx,
    size_t m, size_t *len_r)
{
	size_t cap = 1, len = 0;
	char *p;

	for (size_t j = 0; j < m; j++)
		cap += 256 + strlen(name) + strlen(keys[idx[j]].passphrase);
	p = pn_malloc(cap);
	for (size_t j = 0; j < m; j++)
		len += (size_t)snprintf(p + len, cap - len,
		    "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
		    "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
		    "Name-Real: %s\nExpire-Date: 0\nPassphrase: %s\nHandle: k%zu\n%%commit\n",
		    name, keys[idx[j]].passphrase, idx[j]);
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
	size_t n;                   /* keys in the batch: handles k0 .. k<n-1> */
	const size_t *idx;          /* block j of this run makes key idx[j] */
	size_t m;                   /* blocks in this run */
	char (*fpr)[PN_GPG_FPR_MAX]; /* by handle */
	size_t made;                /* KEY_CREATED */
	size_t done;                /* KEY_CREATED and KEY_NOT_CREATED: the block now is done */
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
	if (strcmp(args, "passphrase.enter") || io->bad || io->done >= io->m) {
		close_fd(&io->cmd);
		return;
	}
	pn_debug("msg=\"gpg asks again for the passphrase of the key it makes\" block=%zu",
	    io->done);
	p = io->keys[io->idx[io->done]].passphrase;
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
 * genkey_run - "gpg --batch --gen-key" with params on its stdin (block j
 * makes keys[idx[j]], "Handle: k<idx[j]>") and its prompts answered on a
 * command fd; fpr_r[i] is key i's fingerprint once made. Returns how many
 * of the m blocks were made, -1 if gpg did not run.
 */
static long genkey_run(pn_gpg *gpg, const char *params, size_t len,
    const pn_gpg_newkey *keys, const size_t *idx, size_t m,
    char (*fpr_r)[PN_GPG_FPR_MAX], size_t n)
{
	extern char **environ;
	const char *file = gpg_program(gpg);
	posix_spawn_file_actions_t fa;
	int sv[2] = { -1, -1 }, cv[2] = { -1, -1 }, st[2] = { -1, -1 }, status = 0, rc_spawn;
	int in = -1, rd = -1;
	pid_t pid = -1;
	char line[512];
	size_t ll = 0, off = 0;
	genkey_io io = { .keys = keys, .n = n, .idx = idx, .m = m, .fpr = fpr_r, .cmd = -1 };

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
	if (pid <= 0)
		return -1;
	if (io.made < m)
		pn_warn("msg=\"gpg did not make every key of the batch\" exit=%d made=%zu of=%zu "
		    "status=\"%s\"", WIFEXITED(status) ? WEXITSTATUS(status) : -1, io.made, m,
		    io.errors);
	return (long)io.made;
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

/* make_missing - one generation run for the keys without a fingerprint; -1 if gpg did not run */
static int make_missing(pn_gpg *gpg, const char *name, const pn_gpg_newkey *keys,
    char (*fprs)[PN_GPG_FPR_MAX], size_t n)
{
	size_t idx[PN_GPG_MAX_BATCH], m = 0, plen = 0;
	char *params;
	long made;

	for (size_t i = 0; i < n; i++)
		if (!fprs[i][0])
			idx[m++] = i;
	if (m == 0)
		return 0;
	params = genkey_params(name, keys, idx, m, &plen);
	made = genkey_run(gpg, params, plen, keys, idx, m, fprs, n);
	pn_wipe(params, plen);
	free(params);
	return made < 0 ? -1 : 0;
}

/*
 * take - key i's exported public block pb and secret block sb, checked:
 * pb's fingerprint is fprs[i], sb is its protected secret key, and the
 * secret of every key in it (primary and subkey) opens with keys[i]'s
 * passphrase; then armored into keys[i]. 0, or -1 (keys[i] untouched).
 * gpg has exported, under heavy load, a key whose primary key opened with
 * its passphrase and whose encryption subkey did not: a mailbox made
 * from it would never open. The check reads the export's bytes (S2K,
 * AES-CFB, SHA-1 in pn_openpgp_secret_opens), no gpg run.
 */
static int take(pn_gpg_newkey *keys, char (*fprs)[PN_GPG_FPR_MAX], size_t i,
    const pn_openpgp_key *pb, const pn_openpgp_key *sb)
{
	char fpr[41];

	if (pn_openpgp_fingerprint(pb, fpr) < 0 || strcmp(fprs[i], fpr) ||
	    !pn_openpgp_secret_opens(pb, sb, keys[i].passphrase))
		return -1;
	keys[i].fpr = pn_strdup(fprs[i]);
	keys[i].pub.data = (uint8_t *)pn_openpgp_armor(pb->data, pb->len, "PUBLIC KEY BLOCK",
	    &keys[i].pub.len);
	keys[i].sec.data = (uint8_t *)pn_openpgp_armor(sb->data, sb->len, "PRIVATE KEY BLOCK",
	    &keys[i].sec.len);
	return 0;
}

/* export_pair - the public and the secret export of the patterns (binary) */
static pn_err export_pair(pn_gpg *gpg, const char **patterns, pn_buf *pubbin, pn_buf *secbin)
{
	pn_err rc = gpg_export_keys(gpg, patterns, GPGME_EXPORT_MODE_SECRET, 0, secbin);

	if (rc == PN_OK && (rc = gpg_export_keys(gpg, patterns, 0, 0, pubbin)) != PN_OK)
		pn_buf_free(secbin);
	return rc;
}

/*
 * take_all - the whole batch in one public and one secret export: every
 * key must be there and match; PN_OK with keys[] filled, else nothing
 */
static pn_err take_all(pn_gpg *gpg, pn_gpg_newkey *keys, char (*fprs)[PN_GPG_FPR_MAX],
    const char **patterns, size_t n)
{
	pn_openpgp_key *pb = pn_calloc(n, sizeof(*pb)), *sb = pn_calloc(n, sizeof(*sb));
	pn_buf pubbin = { 0 }, secbin = { 0 };
	char *sused = pn_calloc(n, 1), fpr[41];
	pn_err rc = export_pair(gpg, patterns, &pubbin, &secbin);

	if (rc == PN_OK) {
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
				for (m = 0; m < n && (sused[m] || take(keys, fprs, i, &pb[j], &sb[m]) < 0);
				    m++)
					;
			if (i == n || m == n) {
				pn_warn("msg=\"batch export does not match the keys made\" keys=%zu", n);
				goto done;
			}
			sused[m] = 1;
		}
		rc = PN_OK;
	}
done:
	if (rc != PN_OK)
		batch_free(keys, n);
	pn_buf_free(&pubbin);
	pn_buf_free(&secbin);
	free(pb);
	free(sb);
	free(sused);
	return rc;
}

/*
 * take_each - each key made and not yet taken, exported alone and
 * checked; a key that fails is forgotten (fprs[i] cleared) to be made
 * again. How many were forgotten.
 */
static size_t take_each(pn_gpg *gpg, pn_gpg_newkey *keys, char (*fprs)[PN_GPG_FPR_MAX],
    size_t n)
{
	size_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		const char *one[2] = { fprs[i], NULL };
		pn_buf pubbin = { 0 }, secbin = { 0 };
		pn_openpgp_key pb, sb;

		if (keys[i].fpr || !fprs[i][0])
			continue;
		if (export_pair(gpg, one, &pubbin, &secbin) != PN_OK ||
		    pn_openpgp_split_keys(pubbin.data, pubbin.len, PN_OPENPGP_TAG_PUBLIC_KEY, &pb, 1) < 0 ||
		    pn_openpgp_split_keys(secbin.data, secbin.len, PN_OPENPGP_TAG_SECRET_KEY, &sb, 1) < 0 ||
		    take(keys, fprs, i, &pb, &sb) < 0) {
			pn_warn("msg=\"gpg-agent made a key it cannot export whole; making it "
			    "again\" key=%zu", i);
			fprs[i][0] = '\0';
			bad++;
		}
		pn_buf_free(&pubbin);
		pn_buf_free(&secbin);
	}
	return bad;
}

/* pass_table - the secret exports ask for each key's passphrase by its main key id */
static void pass_table(pn_gpg *gpg, const pn_gpg_newkey *keys, char (*fprs)[PN_GPG_FPR_MAX],
    char (*keyids)[17], const char **patterns, const char **passes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		patterns[i] = fprs[i];
		memcpy(keyids[i], fprs[i] + 24, 17);
		passes[i] = keys[i].passphrase;
	}
	gpg_pass_set(gpg, NULL);
	gpg->ps.keyids = (const char (*)[17])keyids;
	gpg->ps.passes = passes;
	gpg->ps.nkeys = n;
}

/*
 * make_and_take - every key made, exported and checked, in at most
 * PN_GPG_BATCH_ROUNDS rounds: the first export is the whole batch's; if
 * that fails, each key is exported alone and the ones that fail are made
 * again
 */
static pn_err make_and_take(pn_gpg *gpg, const char *name, pn_gpg_newkey *keys,
    char (*fprs)[PN_GPG_FPR_MAX], char (*keyids)[17], const char **patterns,
    const char **passes, size_t n)
{
	int whole = 1;

	for (int round = 0; round < PN_GPG_BATCH_ROUNDS; round++) {
		size_t missing = 0, taken = 0;

		if (make_missing(gpg, name, keys, fprs, n) < 0)
			return PN_ERR_INTERNAL;
		for (size_t i = 0; i < n; i++)
			missing += !fprs[i][0];
		if (missing)
			continue;
		pass_table(gpg, keys, fprs, keyids, patterns, passes, n);
		if (whole && take_all(gpg, keys, fprs, patterns, n) == PN_OK) {
			gpg_pass_clear(gpg);
			return PN_OK;
		}
		whole = 0;
		take_each(gpg, keys, fprs, n);
		gpg_pass_clear(gpg);
		for (size_t i = 0; i < n; i++)
			taken += keys[i].fpr != NULL;
		if (taken == n)
			return PN_OK;
	}
	pn_warn("msg=\"gpg batch: keys still missing after %d rounds\" keys=%zu",
	    PN_GPG_BATCH_ROUNDS, n);
	return PN_ERR_INTERNAL;
}

/* pn_gpg_keygen_batch - n protected keys with one generation and two export runs */
pn_err pn_gpg_keygen_batch(pn_gpg *gpg, const char *name, pn_gpg_newkey *keys, size_t n)
{
	char (*fprs)[PN_GPG_FPR_MAX] = NULL, (*keyids)[17] = NULL;
	const char **patterns = NULL, **passes = NULL;
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
	rc = make_and_take(gpg, name, keys, fprs, keyids, patterns, passes, n);
	for (size_t i = 0; rc == PN_OK && i < n; i++)
		if (!keys[i].pub.data || !keys[i].sec.data)
			rc = PN_ERR_INTERNAL;
	gpg_pass_clear(gpg);
	if (rc != PN_OK)
		batch_free(keys, n);
	free(fprs);
	free(keyids);
	free(patterns);
	free(passes);
	return rc;
}
