/*
 * web_cache.c - the session's cache of decrypted list-view envelopes.
 *
 * A folder page shows, per message, its envelope (from, to, subject,
 * date): a small OpenPGP message that costs a gpg decryption (~7 ms, a
 * process) to read. Message rows never change, so once a session has
 * decrypted an envelope it keeps the result - sealed - in Redis:
 *
 *   web:e:<session id>   hash, field = message id (decimal),
 *                        value = nonce(24) || secretbox(plain) under
 *                        env = BLAKE2b(C, "postern/envelope-box/v1")
 *   plain = version(1) mailbox_id(8) message_id(8) attachments(1)
 *           then from, to, subject, date, each as length(2) || bytes
 *
 * C is the cookie secret (web_crypto.c): Redis holds ciphertext only and
 * a dump without the cookie is useless, exactly like the session record
 * beside it. Both ids are inside the box, so an entry copied to another
 * field, another session's hash or another mailbox does not open.
 *
 * Only the envelope is cached here, never the message body, the folder or
 * the seen flag: a page asked from mailstore takes from here only what
 * cannot change. (Whole rendered pages are kept, for as long as the
 * mailbox's folders do not change, by web_pcache.c.)
 *
 * Lifetime: an entry is written only while the session record exists
 * (one Lua script checks it), with the record's remaining TTL; a touch
 * extends both together (web_sess.c); logout deletes both; the hash is
 * tracked in mbx:<id>:keys, so the reaper deletes it with the mailbox. A
 * hash that has reached WEB_ENV_CACHE_MAX entries starts over, which
 * bounds one session's cache to about 1.5 MB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/seal.h"
#include "web_cache.h"
#include "web_crypto.h"
#include "web_mail.h"
#include "web_sess.h"
#include "web_util.h"

#define ENV_VERSION 1
#define ENV_HEAD (1 + 8 + 8 + 1)
#define ENV_PLAIN_MAX (ENV_HEAD + 4 * 2 + sizeof(((web_env *)0)->from) + \
	sizeof(((web_env *)0)->to) + sizeof(((web_env *)0)->subject) + \
	sizeof(((web_env *)0)->date))
#define ENV_BOX_MIN (PN_SEAL_EXTRA + ENV_HEAD + 8)
#define ENV_BOX_MAX (PN_SEAL_EXTRA + ENV_PLAIN_MAX)
#define ENV_PAGE_MAX 200            /* POSTERN_WEBUI_PAGE_SIZE's maximum */

/* put_str - length(2) || bytes, at most cap - 1 bytes of s */
static size_t put_str(uint8_t *p, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap - 1);

	p[0] = (uint8_t)(n >> 8);
	p[1] = (uint8_t)n;
	memcpy(p + 2, s, n);
	return 2 + n;
}

/* get_str - the inverse into dst (cap bytes, NUL-terminated); -1 if it does not fit */
static int get_str(const uint8_t *p, size_t avail, size_t *o, char *dst, size_t cap)
{
	size_t n;

	if (*o + 2 > avail)
		return -1;
	n = ((size_t)p[*o] << 8) | p[*o + 1];
	*o += 2;
	if (n >= cap || *o + n > avail || memchr(p + *o, '\0', n))
		return -1;
	memcpy(dst, p + *o, n);
	dst[n] = '\0';
	*o += n;
	return 0;
}

/* web_env_seal - version, both ids and the four fields, boxed */
uint8_t *web_env_seal(const uint8_t key[32], int64_t mailbox_id, int64_t message_id,
    const web_env *e, size_t *len_r)
{
	uint8_t plain[ENV_PLAIN_MAX], *out;
	size_t n = 0;

	plain[n++] = ENV_VERSION;
	web_put_u64(plain + n, (uint64_t)mailbox_id);
	n += 8;
	web_put_u64(plain + n, (uint64_t)message_id);
	n += 8;
	plain[n++] = e->attachments ? 1 : 0;
	n += put_str(plain + n, e->from, sizeof(e->from));
	n += put_str(plain + n, e->to, sizeof(e->to));
	n += put_str(plain + n, e->subject, sizeof(e->subject));
	n += put_str(plain + n, e->date, sizeof(e->date));

	out = pn_malloc(n + PN_SEAL_EXTRA);
	*len_r = pn_seal(key, plain, n, out);
	sodium_memzero(plain, sizeof(plain));
	return out;
}

/* web_env_open - unbox, check version and ids, parse into e */
int web_env_open(const uint8_t key[32], int64_t mailbox_id, int64_t message_id,
    const uint8_t *in, size_t len, web_env *e)
{
	uint8_t plain[ENV_PLAIN_MAX];
	size_t n, o = 0;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (len < ENV_BOX_MIN || len > ENV_BOX_MAX)
		return -1;
	n = len - PN_SEAL_EXTRA;
	if (pn_unseal(key, in, len, plain) < 0)
		goto done;
	if (plain[o++] != ENV_VERSION)
		goto done;
	if ((int64_t)web_get_u64(plain + o) != mailbox_id ||
	    (int64_t)web_get_u64(plain + o + 8) != message_id)
		goto done;
	o += 16;
	if (plain[o] > 1)
		goto done;
	e->attachments = plain[o++];
	if (get_str(plain, n, &o, e->from, sizeof(e->from)) < 0 ||
	    get_str(plain, n, &o, e->to, sizeof(e->to)) < 0 ||
	    get_str(plain, n, &o, e->subject, sizeof(e->subject)) < 0 ||
	    get_str(plain, n, &o, e->date, sizeof(e->date)) < 0 || o != n)
		goto done;
	rc = 0;
done:
	sodium_memzero(plain, sizeof(plain));
	if (rc < 0)
		sodium_memzero(e, sizeof(*e));
	return rc;
}

/* web_env_cache_get - one HMGET; entries that do not open are misses */
long web_env_cache_get(pn_redis *r, const web_sess *s, const int64_t *ids, size_t n,
    web_env *env, int *hit)
{
	const char *argv[2 + ENV_PAGE_MAX];
	size_t argvlen[2 + ENV_PAGE_MAX];
	char key[80], (*fields)[24];
	redisReply *rep = NULL;
	uint8_t box[32];
	long hits = 0;

	memset(hit, 0, n * sizeof(*hit));
	if (n == 0)
		return 0;
	if (n > ENV_PAGE_MAX || s->kind != WEB_SESS_AUTH)
		return -1;
	fields = pn_malloc(n * sizeof(*fields));
	web_env_key(s, key);
	argv[0] = "HMGET";
	argvlen[0] = 5;
	argv[1] = key;
	argvlen[1] = strlen(key);
	for (size_t i = 0; i < n; i++) {
		snprintf(fields[i], sizeof(fields[i]), "%lld", (long long)ids[i]);
		argv[2 + i] = fields[i];
		argvlen[2 + i] = strlen(fields[i]);
	}
	if (pn_redis_cmd(r, &rep, (int)(2 + n), argv, argvlen) != PN_OK) {
		free(fields);
		return -1;
	}
	web_env_box(s->c, box);
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == n) {
		for (size_t i = 0; i < n; i++) {
			redisReply *v = rep->element[i];
			if (v->type != REDIS_REPLY_STRING)
				continue;
			if (web_env_open(box, s->mailbox_id, ids[i], (const uint8_t *)v->str,
			    v->len, &env[i]) == 0) {
				hit[i] = 1;
				hits++;
			} else {
				pn_warn("msg=\"cached envelope does not open\" message=%lld",
				    (long long)ids[i]);
			}
		}
	}
	sodium_memzero(box, sizeof(box));
	pn_redis_free(&rep);
	free(fields);
	return hits;
}

/*
 * The write: only while the record lives (PTTL > 0), with its TTL, the
 * hash started over once full, and tracked. KEYS: record, hash, key set.
 * ARGV: the entry limit, then field/value pairs.
 */
static const char put_script[] =
    "local t = redis.call('PTTL', KEYS[1]) "
    "if t <= 0 then return 0 end "
    "if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[2]) end "
    "redis.call('HSET', KEYS[2], unpack(ARGV, 2)) "
    "redis.call('PEXPIRE', KEYS[2], t) "
    "redis.call('SADD', KEYS[3], KEYS[2]) "
    "return 1";

/* web_env_cache_put - seal the wanted entries, one EVAL */
int web_env_cache_put(pn_redis *r, const web_sess *s, const int64_t *ids,
    const web_env *env, const int *want, size_t n)
{
	size_t argc, k = 0, m = 0;
	const char **argv;
	size_t *argvlen;
	uint8_t **vals, box[32];
	char rec[80], hash[80], set[64], max[16], (*fields)[24];
	pn_err err;

	for (size_t i = 0; i < n; i++)
		m += want[i] != 0;
	if (m == 0)
		return 0;
	if (n > ENV_PAGE_MAX || s->kind != WEB_SESS_AUTH || s->mailbox_id <= 0)
		return -1;
	argc = 7 + 2 * m;
	argv = pn_calloc(argc, sizeof(*argv));
	argvlen = pn_calloc(argc, sizeof(*argvlen));
	vals = pn_calloc(m, sizeof(*vals));
	fields = pn_malloc(m * sizeof(*fields));
	web_sess_key(s, rec);
	web_env_key(s, hash);
	snprintf(set, sizeof(set), "mbx:%lld:keys", (long long)s->mailbox_id);
	snprintf(max, sizeof(max), "%d", WEB_ENV_CACHE_MAX);
	argv[k++] = "EVAL";
	argv[k++] = put_script;
	argv[k++] = "3";
	argv[k++] = rec;
	argv[k++] = hash;
	argv[k++] = set;
	argv[k++] = max;
	for (size_t i = 0; i < k; i++)
		argvlen[i] = strlen(argv[i]);
	web_env_box(s->c, box);
	for (size_t i = 0, j = 0; i < n; i++) {
		if (!want[i])
			continue;
		snprintf(fields[j], sizeof(fields[j]), "%lld", (long long)ids[i]);
		argv[k] = fields[j];
		argvlen[k++] = strlen(fields[j]);
		vals[j] = web_env_seal(box, s->mailbox_id, ids[i], &env[i], &argvlen[k]);
		argv[k++] = (const char *)vals[j++];
	}
	sodium_memzero(box, sizeof(box));
	err = pn_redis_cmd(r, NULL, (int)argc, argv, argvlen);
	for (size_t j = 0; j < m; j++)
		free(vals[j]);
	free(vals);
	free(fields);
	free(argvlen);
	free(argv);
	return err == PN_OK ? 0 : -1;
}
