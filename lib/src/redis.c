/*
 * redis.c - hiredis 0.14 glue (see redis.h).
 *
 * A pn_redis remembers where to connect and holds at most one live
 * redisContext. Any I/O or protocol error closes the context; the next
 * command connects again (and re-sends AUTH), so a restarted Redis costs
 * one failed call, never a stuck service. Connecting is lazy: opening a
 * pn_redis never fails because the server is down, only because the
 * address cannot be parsed.
 *
 * Behind Sentinel ("sentinel://NAME@host:port,host:port") the address is
 * not known in advance: every connect asks the sentinels in turn for the
 * master of NAME (SENTINEL get-master-addr-by-name; hiredis has no
 * Sentinel support of its own) and checks with ROLE that the server it
 * reached is a master, as the Sentinel client guidelines ask. A lost
 * connection and a READONLY reply (the master was demoted under us) close
 * the context, so the next command asks the sentinels again: a failover
 * costs the calls made while Sentinel elects the new master, each failing
 * with PN_ERR_TEMP.
 *
 * Commands go argv-style only (redisCommandArgv, redisAppendCommandArgv
 * for a pipeline): values are binary-safe and user data never meets a
 * format string. The password is kept in memory (it is needed for every
 * reconnect) and wiped on close; it is never logged. It is offered to the
 * sentinels too (an AUTH they refuse because they have no password is
 * ignored).
 */
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/redis.h"

#define PN_REDIS_MAX_ARGS 4096
#define PN_REDIS_MAX_SENTINELS 8

typedef struct pn_redis_sentinel {
	char *host;
	int port;
} pn_redis_sentinel;

struct pn_redis {
	char *host;                  /* NULL for a Unix socket; the master's behind Sentinel */
	int port;
	char *master;                /* Sentinel's name for the master, or NULL */
	pn_redis_sentinel sentinels[PN_REDIS_MAX_SENTINELS];
	int nsentinels;
	int sentinel_next;           /* the one that answered last: asked first */
	char *path;                  /* Unix socket path */
	char *password;              /* NULL or "" = no AUTH */
	long timeout_ms;
	redisContext *c;
	int down_logged;             /* "unreachable" logged once per outage */
};

/* tv_of - milliseconds as a timeval */
static struct timeval tv_of(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

/* pn_redis_free - freeReplyObject that takes a pointer and clears it */
void pn_redis_free(redisReply **reply)
{
	if (reply && *reply) {
		freeReplyObject(*reply);
		*reply = NULL;
	}
}

/* drop - forget the current connection */
static void drop(pn_redis *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

/* where_str - host:port or the socket path, for logs */
static const char *where_str(const pn_redis *r, char *buf, size_t len)
{
	if (r->path)
		snprintf(buf, len, "unix:%s", r->path);
	else if (r->host)
		snprintf(buf, len, "%s:%d", r->host, r->port);
	else
		snprintf(buf, len, "sentinel:%s", r->master);
	return buf;
}

/* temp_error - error replies that clear up by themselves */
static int temp_error(const redisReply *reply)
{
	return reply->str && (!strncmp(reply->str, "LOADING", 7) ||
	    !strncmp(reply->str, "BUSY", 4) ||
	    !strncmp(reply->str, "MASTERDOWN", 10) ||
	    !strncmp(reply->str, "TRYAGAIN", 8) ||
	    !strncmp(reply->str, "READONLY", 8));
}

/* demoted - READONLY: the server we write to is a replica now */
static int demoted(const redisReply *reply)
{
	return reply->type == REDIS_REPLY_ERROR && reply->str &&
	    !strncmp(reply->str, "READONLY", 8);
}

/* send_auth - AUTH with the password on c; the reply, or NULL on I/O error */
static redisReply *send_auth(const pn_redis *r, redisContext *c)
{
	const char *argv[2] = { "AUTH", r->password };
	size_t argvlen[2] = { 4, strlen(r->password) };

	return redisCommandArgv(c, 2, argv, argvlen);
}

/* ask_sentinel - the master's address from sentinel i; 0 or -1 */
static int ask_sentinel(pn_redis *r, int i, char **host_r, int *port_r)
{
	const pn_redis_sentinel *s = &r->sentinels[i];
	struct timeval tv = tv_of(r->timeout_ms);
	redisReply *reply = NULL;
	redisContext *c;
	int ok = 0;

	c = redisConnectWithTimeout(s->host, s->port, tv);
	if (!c || c->err || redisSetTimeout(c, tv) != REDIS_OK)
		goto done;
	if (r->password && *r->password) {
		/* a sentinel without a password refuses AUTH: harmless */
		if (!(reply = send_auth(r, c)))
			goto done;
		pn_redis_free(&reply);
	}
	{
		const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", r->master };
		size_t argvlen[3] = { 8, 23, strlen(r->master) };
		reply = redisCommandArgv(c, 3, argv, argvlen);
	}
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    reply->element[1]->type == REDIS_REPLY_STRING &&
	    reply->element[0]->len > 0 && reply->element[0]->len < 256) {
		long port = strtol(reply->element[1]->str, NULL, 10);
		if (port >= 1 && port <= 65535) {
			*host_r = pn_strdup(reply->element[0]->str);
			*port_r = (int)port;
			ok = 1;
		}
	}
done:
	pn_redis_free(&reply);
	if (c)
		redisFree(c);
	return ok ? 0 : -1;
}

/* resolve_master - ask the sentinels in turn; 0 with r->host/port set, or -1 */
static int resolve_master(pn_redis *r)
{
	char *host = NULL;
	int port = 0;

	for (int k = 0; k < r->nsentinels; k++) {
		int i = (r->sentinel_next + k) % r->nsentinels;
		if (ask_sentinel(r, i, &host, &port) < 0)
			continue;
		r->sentinel_next = i;
		if (!r->host || strcmp(r->host, host) || r->port != port)
			pn_info("msg=\"redis master resolved\" master=%s redis=%s:%d sentinel=%s:%d",
			    r->master, host, port, r->sentinels[i].host, r->sentinels[i].port);
		pn_free(&r->host);
		r->host = host;
		r->port = port;
		return 0;
	}
	if (!r->down_logged)
		pn_warn("msg=\"no sentinel knows the redis master\" master=%s sentinels=%d",
		    r->master, r->nsentinels);
	r->down_logged = 1;
	return -1;
}

/* is_master - ROLE says the connected server is a master */
static int is_master(pn_redis *r)
{
	const char *argv[1] = { "ROLE" };
	redisReply *reply = redisCommandArgv(r->c, 1, argv, NULL);
	int ok = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    !strcmp(reply->element[0]->str, "master");

	pn_redis_free(&reply);
	return ok;
}

/* connect_now - open a connection, set timeouts, authenticate */
static pn_err connect_now(pn_redis *r)
{
	struct timeval tv = tv_of(r->timeout_ms);
	redisReply *reply = NULL;
	char where[300];

	if (r->master && resolve_master(r) < 0)
		return PN_ERR_TEMP;
	if (r->path)
		r->c = redisConnectUnixWithTimeout(r->path, tv);
	else
		r->c = redisConnectWithTimeout(r->host, r->port, tv);
	if (!r->c || r->c->err)
		goto fail;
	if (redisSetTimeout(r->c, tv) != REDIS_OK)
		goto fail;
	redisEnableKeepAlive(r->c);
	if (r->password && *r->password) {
		reply = send_auth(r, r->c);
		if (!reply)
			goto fail;
		if (reply->type == REDIS_REPLY_ERROR) {
			pn_error("msg=\"redis refused authentication\" redis=%s",
			    where_str(r, where, sizeof(where)));
			pn_redis_free(&reply);
			drop(r);
			return PN_ERR_TEMP;
		}
		pn_redis_free(&reply);
	}
	if (r->master && !is_master(r)) {
		/* Sentinel has not yet noticed a failover, or told us too early */
		pn_warn("msg=\"redis named by sentinel is not a master\" master=%s redis=%s",
		    r->master, where_str(r, where, sizeof(where)));
		r->down_logged = 1;
		drop(r);
		return PN_ERR_TEMP;
	}
	if (r->down_logged)
		pn_info("msg=\"redis reachable again\" redis=%s",
		    where_str(r, where, sizeof(where)));
	r->down_logged = 0;
	return PN_OK;
fail:
	if (!r->down_logged)
		pn_warn("msg=\"redis unreachable\" redis=%s error=\"%s\"",
		    where_str(r, where, sizeof(where)),
		    r->c ? r->c->errstr : "cannot allocate context");
	r->down_logged = 1;
	drop(r);
	return PN_ERR_TEMP;
}

/* parse_hostport - "host:port" into a copy of host and the port; 0 or -1 */
static int parse_hostport(const char *s, size_t len, char **host_r, int *port_r)
{
	const char *colon = NULL;
	char digits[8], *end;
	long port;

	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;
	if (!colon || colon == s || (size_t)(s + len - colon - 1) >= sizeof(digits) ||
	    colon == s + len - 1)
		return -1;
	memcpy(digits, colon + 1, (size_t)(s + len - colon - 1));
	digits[s + len - colon - 1] = '\0';
	errno = 0;
	port = strtol(digits, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -1;
	*host_r = pn_strndup(s, (size_t)(colon - s));
	*port_r = (int)port;
	return 0;
}

/* parse_sentinels - "NAME@host:port,host:port" (after "sentinel://"); 0 or -1 */
static int parse_sentinels(pn_redis *r, const char *spec)
{
	const char *at = strchr(spec, '@'), *p;

	if (!at || at == spec || at - spec > 64)
		return -1;
	for (p = spec; p < at; p++)     /* a Sentinel name: no spaces or controls */
		if (*p <= ' ' || *p == 0x7f)
			return -1;
	r->master = pn_strndup(spec, (size_t)(at - spec));
	for (p = at + 1;;) {
		size_t len = strcspn(p, ",");
		pn_redis_sentinel *s;

		if (r->nsentinels == PN_REDIS_MAX_SENTINELS)
			return -1;
		s = &r->sentinels[r->nsentinels];
		if (parse_hostport(p, len, &s->host, &s->port) < 0)
			return -1;
		r->nsentinels++;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* pn_redis_open - parse where; the connection opens on first use */
pn_redis *pn_redis_open(const char *where, const char *password, long timeout_ms)
{
	pn_redis *r;

	if (!where || !*where)
		return NULL;
	r = pn_calloc(1, sizeof(*r));
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	if (password && *password)
		r->password = pn_strdup(password);
	if (!strncmp(where, "unix:", 5)) {
		if (!where[5])
			goto fail;
		r->path = pn_strdup(where + 5);
		return r;
	}
	if (!strncmp(where, "sentinel://", 11)) {
		if (parse_sentinels(r, where + 11) < 0)
			goto fail;
		return r;
	}
	if (parse_hostport(where, strlen(where), &r->host, &r->port) < 0)
		goto fail;
	return r;
fail:
	pn_error("msg=\"bad redis address (want host:port, unix:/path or "
	    "sentinel://NAME@host:port,...)\" redis=\"%s\"", where);
	pn_redis_close(&r);
	return NULL;
}

/* pn_redis_close - close the connection, wipe the password, free */
void pn_redis_close(pn_redis **rp)
{
	pn_redis *r = rp ? *rp : NULL;

	if (!r)
		return;
	*rp = NULL;
	drop(r);
	pn_free(&r->host);
	pn_free(&r->path);
	pn_free(&r->master);
	for (int i = 0; i < r->nsentinels; i++)
		pn_free(&r->sentinels[i].host);
	if (r->password)
		pn_wipe_free(&r->password);
	free(r);
}

/* pn_redis_cmd - one command; reconnects first if the last call broke */
pn_err pn_redis_cmd(pn_redis *r, redisReply **reply_r, int argc,
    const char **argv, const size_t *argvlen)
{
	redisReply *reply;
	char where[300];
	pn_err rc;

	if (reply_r)
		*reply_r = NULL;
	if (!r || argc < 1 || argc > PN_REDIS_MAX_ARGS)
		return PN_ERR_PARAMS;
	if (!r->c && (rc = connect_now(r)) != PN_OK)
		return rc;
	reply = redisCommandArgv(r->c, argc, argv, argvlen);
	if (!reply) {
		pn_warn("msg=\"redis command failed\" redis=%s cmd=%.16s error=\"%s\"",
		    where_str(r, where, sizeof(where)), argv[0], r->c->errstr);
		drop(r);
		return PN_ERR_TEMP;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		/* LOADING, BUSY and MASTERDOWN clear up by themselves */
		int temp = temp_error(reply);
		pn_warn("msg=\"redis error reply\" cmd=%.16s error=\"%.200s\"", argv[0],
		    reply->str ? reply->str : "");
		if (demoted(reply))
			drop(r);        /* the next call finds the new master */
		pn_redis_free(&reply);
		return temp ? PN_ERR_TEMP : PN_ERR_INTERNAL;
	}
	if (reply_r)
		*reply_r = reply;
	else
		pn_redis_free(&reply);
	return PN_OK;
}

/*
 * pn_redis_pipe - append every command to hiredis's output buffer, then
 * read the replies in order (the first redisGetReply flushes the buffer).
 * All n replies are read even after an error reply, so the connection
 * never holds an unread answer; an I/O error drops the connection.
 */
pn_err pn_redis_pipe(pn_redis *r, size_t n, const pn_redis_argv *cmds,
    redisReply **replies_r)
{
	redisReply *replies[64] = { NULL };
	char where[300];
	pn_err rc = PN_OK;
	size_t i;

	if (replies_r && n <= 64)
		memset(replies_r, 0, n * sizeof(*replies_r));
	if (!r || n < 1 || n > 64)
		return PN_ERR_PARAMS;
	for (i = 0; i < n; i++)
		if (cmds[i].argc < 1 || cmds[i].argc > PN_REDIS_MAX_ARGS)
			return PN_ERR_PARAMS;
	if (!r->c && (rc = connect_now(r)) != PN_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (redisAppendCommandArgv(r->c, cmds[i].argc, cmds[i].argv,
		    cmds[i].argvlen) != REDIS_OK)
			goto io;
	for (i = 0; i < n; i++) {
		void *reply = NULL;
		if (redisGetReply(r->c, &reply) != REDIS_OK || !reply)
			goto io;
		replies[i] = reply;
		if (replies[i]->type == REDIS_REPLY_ERROR && rc == PN_OK) {
			pn_warn("msg=\"redis error reply\" cmd=%.16s error=\"%.200s\"",
			    cmds[i].argv[0], replies[i]->str ? replies[i]->str : "");
			rc = temp_error(replies[i]) ? PN_ERR_TEMP : PN_ERR_INTERNAL;
		}
	}
	for (i = 0; i < n; i++)
		if (demoted(replies[i]))
			drop(r);        /* after the loop: every reply was read */
	for (i = 0; i < n; i++) {
		if (rc == PN_OK && replies_r)
			replies_r[i] = replies[i];
		else
			pn_redis_free(&replies[i]);
	}
	return rc;
io:
	pn_warn("msg=\"redis pipeline failed\" redis=%s cmd=%.16s error=\"%s\"",
	    where_str(r, where, sizeof(where)), cmds[i].argv[0], r->c->errstr);
	for (i = 0; i < n; i++)
		pn_redis_free(&replies[i]);
	drop(r);
	return PN_ERR_TEMP;
}

/* pn_redis_cmdv - pn_redis_cmd with a NULL-terminated list of strings */
pn_err pn_redis_cmdv(pn_redis *r, redisReply **reply_r, ...)
{
	const char *argv[64];
	size_t argvlen[64];
	int argc = 0;
	va_list ap;
	const char *s;

	va_start(ap, reply_r);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (argc == 64) {
			va_end(ap);
			return PN_ERR_PARAMS;
		}
		argv[argc] = s;
		argvlen[argc] = strlen(s);
		argc++;
	}
	va_end(ap);
	return pn_redis_cmd(r, reply_r, argc, argv, argvlen);
}

/* pn_redis_ping - 1 if the server answers PONG */
int pn_redis_ping(pn_redis *r)
{
	redisReply *reply = NULL;
	int ok;

	if (pn_redis_cmdv(r, &reply, "PING", (char *)NULL) != PN_OK)
		return 0;
	ok = reply->type == REDIS_REPLY_STATUS && reply->str && !strcmp(reply->str, "PONG");
	pn_redis_free(&reply);
	return ok;
}

/* mailbox_set - the name of a mailbox's key set */
static void mailbox_set(char *buf, size_t len, int64_t mailbox_id)
{
	snprintf(buf, len, "mbx:%lld:keys", (long long)mailbox_id);
}

pn_err pn_redis_track(pn_redis *r, int64_t mailbox_id, const char *key)
{
	char set[64];
	mailbox_set(set, sizeof(set), mailbox_id);
	return pn_redis_cmdv(r, NULL, "SADD", set, key, (char *)NULL);
}

/*
 * pn_redis_forget_mailbox - one Lua script, so the members and the set go
 * in one atomic step: a key tracked concurrently is either deleted now or
 * left listed in a set that the next call deletes.
 */
pn_err pn_redis_forget_mailbox(pn_redis *r, int64_t mailbox_id, long *deleted_r)
{
	static const char script[] =
	    "local keys = redis.call('SMEMBERS', KEYS[1]) "
	    "local n = 0 "
	    "for i = 1, #keys do n = n + redis.call('DEL', keys[i]) end "
	    "redis.call('DEL', KEYS[1]) "
	    "return n";
	char set[64];
	redisReply *reply = NULL;
	pn_err err;

	mailbox_set(set, sizeof(set), mailbox_id);
	err = pn_redis_cmdv(r, &reply, "EVAL", script, "1", set, (char *)NULL);
	if (err == PN_OK && deleted_r)
		*deleted_r = reply->type == REDIS_REPLY_INTEGER ? (long)reply->integer : 0;
	pn_redis_free(&reply);
	return err;
}

/*
 * pn_redis_forget_mailboxes - pn_redis_forget_mailbox for n mailboxes and
 * DEL of the extra keys, in one Lua script (one round trip, one atomic
 * step). KEYS: the n sets, then the extra keys; ARGV[1] = n.
 */
pn_err pn_redis_forget_mailboxes(pn_redis *r, const int64_t *ids, size_t n,
    const char *const *extra, size_t nextra, long *deleted_r)
{
	static const char script[] =
	    "local nsets = tonumber(ARGV[1]) "
	    "local n = 0 "
	    "for s = 1, nsets do "
	    "local keys = redis.call('SMEMBERS', KEYS[s]) "
	    "for i = 1, #keys do n = n + redis.call('DEL', keys[i]) end "
	    "redis.call('DEL', KEYS[s]) "
	    "end "
	    "for k = nsets + 1, #KEYS do n = n + redis.call('DEL', KEYS[k]) end "
	    "return n";
	size_t argc = 4 + n + nextra, k = 0;
	const char **argv = pn_calloc(argc, sizeof(*argv));
	size_t *argvlen = pn_calloc(argc, sizeof(*argvlen));
	char *sets = pn_calloc(n ? n : 1, 32);
	char nkeys[32], nsets[32];
	redisReply *reply = NULL;
	pn_err err;

	snprintf(nkeys, sizeof(nkeys), "%zu", n + nextra);
	snprintf(nsets, sizeof(nsets), "%zu", n);
	argv[k++] = "EVAL";
	argv[k++] = script;
	argv[k++] = nkeys;
	for (size_t i = 0; i < n; i++) {
		mailbox_set(sets + i * 32, 32, ids[i]);
		argv[k++] = sets + i * 32;
	}
	for (size_t i = 0; i < nextra; i++)
		argv[k++] = extra[i];
	argv[k++] = nsets;
	for (size_t i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	err = pn_redis_cmd(r, &reply, (int)argc, argv, argvlen);
	if (err == PN_OK && deleted_r)
		*deleted_r = reply->type == REDIS_REPLY_INTEGER ? (long)reply->integer : 0;
	pn_redis_free(&reply);
	free(sets);
	free(argvlen);
	free(argv);
	return err;
}

void pn_redis_ver_key(char *buf, size_t len, int64_t mailbox_id)
{
	snprintf(buf, len, "mbx:%lld:ver", (long long)mailbox_id);
}

void pn_redis_ver_new(char out[PN_REDIS_VER_TEXT])
{
	uint8_t r[16];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, PN_REDIS_VER_TEXT, r, sizeof(r));
}

/* pn_redis_folders_changed - every earlier token stops matching */
pn_err pn_redis_folders_changed(pn_redis *r, int64_t mailbox_id)
{
	char key[64], ver[PN_REDIS_VER_TEXT], ttl[16];

	pn_redis_ver_key(key, sizeof(key), mailbox_id);
	pn_redis_ver_new(ver);
	snprintf(ttl, sizeof(ttl), "%d", PN_REDIS_VER_TTL);
	return pn_redis_cmdv(r, NULL, "SET", key, ver, "EX", ttl, (char *)NULL);
}
