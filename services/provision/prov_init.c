/*
 * prov_init.c - provision's start and stop: the server key, the SMTP
 * senders of its mails (to senders, to recipients), Redis, the keyring (a GnuPG home with the fast S2K
 * profile, prov_keyring.c), the key pool and the bus client for keylookup
 * and mailstore. The skeleton calls prov_init once before the worker loop
 * and prov_fini once after it; prov_background runs beside the worker
 * and renews the keyring when it is due and no event comes to do it.
 * With POSTERN_WORKERS above 1, prov_worker_init gives each further
 * worker its own connections and keyring (prov_worker_fini closes them).
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "postern/addr.h"
#include "postern/log.h"
#include "postern/mime.h"
#include "prov.h"

/*
 * open_lanes - the worker's clients for parts in flight, connected now:
 * connected at the first large mail, their sockets' state (here and in
 * the broker) would be made among that mail's 10 MB buffers and split the
 * heap's room for the next one (docs/performance.md)
 */
static int open_lanes(pn_ctx *ctx, prov_state *st)
{
	for (int i = 0; i < PROV_LANES; i++)
		if (!(st->lanes[i] = pn_client_new(pn_ctx_bus(ctx))) ||
		    pn_client_connect(st->lanes[i]) < 0)
			return -1;
	return 0;
}

/* prov_init - server key, Redis, GnuPG home, bus client */
/*
 * load_operator_key - POSTERN_PROVISION_OPERATOR_KEY: the armored public
 * key whose holder may re-issue any mailbox (prov_ctl.c); "" = nobody
 */
static int load_operator_key(prov_state *st)
{
	gchar *data = NULL;
	gsize len = 0;

	if (!*prov_cfg.operator_key)
		return 0;
	if (!g_file_get_contents(prov_cfg.operator_key, &data, &len, NULL) || len == 0 ||
	    len > 65536 || !strstr(data, "-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		pn_error("msg=\"POSTERN_PROVISION_OPERATOR_KEY is not a readable armored public "
		    "key of at most 64 KiB\" path=%s", prov_cfg.operator_key);
		g_free(data);
		return -1;
	}
	st->operator_key.data = (uint8_t *)pn_memdup(data, len);
	st->operator_key.len = len;
	g_free(data);
	return 0;
}

int prov_init(pn_ctx *ctx)
{
	prov_state *st = pn_calloc(1, sizeof(*st));
	char addr[PN_ADDR_MAX + 1];
	const char *why = NULL;

	pn_ctx_set_state(ctx, st);
	{
		char err[512];
		if (pn_brand_load(&prov_cfg.brand, prov_templates, prov_n_templates, err,
		    sizeof(err)) < 0) {
			pn_error("msg=\"cannot start: %s\"", err);
			goto fail;
		}
	}
	if (prov_key_parse(prov_cfg.server_key, st->key) < 0) {
		pn_error("msg=\"POSTERN_PROVISION_KEY must be 32 bytes as 64 hex digits or base64\"");
		goto fail;
	}
	{
		/* the SMTP sender of our mails: the address inside POSTERN_INVITE_FROM */
		const char *lt = strrchr(prov_cfg.invite_from, '<');
		const char *in = lt ? lt + 1 : prov_cfg.invite_from;
		size_t n = strcspn(in, ">");
		if (n == 0 || n > PN_ADDR_MAX || !memchr(in, '@', n)) {
			pn_error("msg=\"POSTERN_INVITE_FROM has no address\"");
			goto fail;
		}
		memcpy(addr, in, n);
		addr[n] = '\0';
		/*
		 * The SMTP envelope sender: that address when it is a full one,
		 * else the null reverse-path "<>" (right for automatic mail, and
		 * what a one-label default like postern@localhost must become).
		 */
		char norm[PN_ADDR_MAX + 1];
		if (pn_addr_normalise(addr, norm, sizeof(norm), NULL) == 0) {
			st->invite_addr = pn_strdup(norm);
		} else {
			st->invite_addr = pn_strdup("");
			pn_info("msg=\"POSTERN_INVITE_FROM is not a routable address: SMTP sender <> \"");
		}
		/* the header must also parse as a mailbox */
		size_t len;
		const char *to[] = { addr };
		pn_mime_mail m = { .from = prov_cfg.invite_from, .to = to, .n_to = 1,
			.subject = "check", .text = "check" };
		uint8_t *probe = pn_mime_compose(&m, &len, &why);
		if (!probe) {
			pn_error("msg=\"POSTERN_INVITE_FROM does not parse\" why=\"%s\"", why);
			goto fail;
		}
		free(probe);
	}
	{
		/* the SMTP sender of mails to recipients (POSTERN_INVITE_RETURN_PATH) */
		const char *rp = prov_cfg.invite_return_path;
		char norm[PN_ADDR_MAX + 1];
		if (!strcmp(rp, "sender")) {
			st->return_path = NULL;
		} else if (!strcmp(rp, "from")) {
			st->return_path = pn_strdup(st->invite_addr);
		} else if (pn_addr_normalise(rp, norm, sizeof(norm), &why) == 0) {
			st->return_path = pn_strdup(norm);
		} else {
			pn_error("msg=\"POSTERN_INVITE_RETURN_PATH must be sender, from or an address\" "
			    "why=\"%s\"", why ? why : "");
			goto fail;
		}
	}
	while (strlen(prov_cfg.public_url) > 1 &&
	    prov_cfg.public_url[strlen(prov_cfg.public_url) - 1] == '/')
		prov_cfg.public_url[strlen(prov_cfg.public_url) - 1] = '\0';
	if (load_operator_key(st) < 0)
		goto fail;
	if (strcmp(prov_cfg.receipts_without_key, "none") &&
	    strcmp(prov_cfg.receipts_without_key, "plain")) {
		pn_error("msg=\"POSTERN_PROVISION_RECEIPTS_WITHOUT_KEY must be none or plain\"");
		goto fail;
	}
	if (!(st->redis = pn_redis_open(prov_cfg.redis, prov_cfg.redis_password,
	    prov_cfg.redis_timeout_ms)))
		goto fail;
	if (!(st->keyring = prov_keyring_open(prov_cfg.gnupghome, prov_cfg.keyring_max,
	    prov_cfg.keyring_max_age)))
		goto fail;
	if (!(st->bus = pn_client_new(pn_ctx_bus(ctx))) || open_lanes(ctx, st) < 0)
		goto fail;
	st->pool = prov_pool_start(prov_cfg.key_pool, st->keyring);
	st->recent = prov_recent_new(prov_cfg.recent_keys);
	pn_info("msg=\"provision ready\" gnupghome=%s redis=%s public_url=%s pin_length=%ld "
	    "max_recipients=%ld max_mail_bytes=%ld key_pool=%ld keyring_max=%ld "
	    "keyring_max_age=%ld recent_keys=%ld return_path=%s", prov_cfg.gnupghome,
	    prov_cfg.redis, prov_cfg.public_url,
	    prov_cfg.pin_length, prov_cfg.max_recipients, prov_cfg.max_mail_bytes,
	    st->pool ? prov_cfg.key_pool : 0L, prov_cfg.keyring_max, prov_cfg.keyring_max_age,
	    prov_cfg.recent_keys,
	    st->return_path ? (*st->return_path ? st->return_path : "<>") : "sender");
	return 0;
fail:
	prov_fini(ctx);
	return -1;
}

/* close_own - what each worker has of its own: bus clients, keyring, Redis */
static void close_own(prov_state *st)
{
	pn_client_destroy(&st->bus);
	for (int i = 0; i < PROV_LANES; i++)
		pn_client_destroy(&st->lanes[i]);
	prov_keyring_close(&st->keyring);
	pn_redis_close(&st->redis);
}

/* prov_fini - close what prov_init opened, wipe the key */
void prov_fini(pn_ctx *ctx)
{
	prov_state *st = pn_ctx_state(ctx);

	if (!st)
		return;
	prov_pool_stop(&st->pool);
	close_own(st);
	prov_recent_free(&st->recent);
	pn_free(&st->invite_addr);
	pn_free(&st->return_path);
	pn_buf_free(&st->operator_key);
	pn_brand_fini(&prov_cfg.brand);
	sodium_memzero(st->key, sizeof(st->key));
	free(st);
	pn_ctx_set_state(ctx, NULL);
}

int prov_worker_init(pn_ctx *ctx)
{
	prov_state *first = pn_ctx_state(ctx);
	prov_state *st = pn_calloc(1, sizeof(*st));

	/* the key and what prov_init derived are the first's, used as they are */
	memcpy(st->key, first->key, sizeof(st->key));
	st->pool = first->pool;
	st->invite_addr = first->invite_addr;
	st->return_path = first->return_path;
	st->operator_key = first->operator_key;
	st->recent = first->recent;
	st->first = first;
	pn_ctx_set_state(ctx, st);
	if (!(st->redis = pn_redis_open(prov_cfg.redis, prov_cfg.redis_password,
	    prov_cfg.redis_timeout_ms)))
		goto fail;
	if (!(st->keyring = prov_keyring_open_beside(first->keyring)))
		goto fail;
	if (!(st->bus = pn_client_new(pn_ctx_bus(ctx))) || open_lanes(ctx, st) < 0)
		goto fail;
	return 0;
fail:
	prov_worker_fini(ctx);
	return -1;
}

void prov_worker_fini(pn_ctx *ctx)
{
	prov_state *st = pn_ctx_state(ctx);

	if (!st || !st->first)
		return;
	close_own(st);
	sodium_memzero(st->key, sizeof(st->key));
	free(st);
	pn_ctx_set_state(ctx, NULL);
}

/*
 * prov_background - once a second: renew the keyring if due, even without
 * events, and turn pending receipts into mails (prov_receipt.c) with a
 * bus client of this thread's own (a socket is one thread's)
 */
void prov_background(pn_ctx *ctx)
{
	prov_state *st = pn_ctx_state(ctx);
	pn_client *bus = st ? pn_client_new(pn_ctx_bus(ctx)) : NULL;

	while (!pn_ctx_sleep(ctx, 1000)) {
		prov_keyring_tick(st ? st->keyring : NULL);
		if (!bus)
			continue;
		while (!pn_ctx_stopping(ctx) && prov_receipts_pass(st, bus) == PROV_RECEIPTS_BATCH)
			;
	}
	pn_client_destroy(&bus);
}
