/*
 * NAME
 *	postern-keylookup - answers whether an OpenPGP key is known for an address
 * SUMMARY
 *	For each address of a KeyLookup it answers KEY_FOUND (fingerprint,
 *	armored public key, source), GUEST (a temporary mailbox exists), NONE,
 *	or INVALID (the address does not parse; the reason is in error).
 *	Addresses are normalised first (lib/include/postern/addr.h: white
 *	space, "Name <addr>" forms, domain case). Sources, in order:
 *	  1. the Redis cache, keys "kl:<normalised address>" holding the packed
 *	     KeyResult, with one TTL per kind (found / guest / none);
 *	  2. the local keyring (POSTERN_KEYRING_DIR): the organisation's users'
 *	     keys, added with "posternctl key import FILE" or
 *	     "gpg --homedir DIR --import FILE"; only keys that are valid,
 *	     unexpired, unrevoked and have such an encryption subkey count;
 *	  3. the mailstore service (GetMailbox by address) for GUEST - or
 *	     KEY_FOUND when the recipient of the mailbox has a key of their
 *	     own there (uploaded in the web UI: source "recipient"; or
 *	     discovered before: "wkd", "vks");
 *	  4. discovery on the internet, when turned on, for what is still
 *	     GUEST or NONE: WKD (POSTERN_KL_WKD; advanced, then direct
 *	     method) and a VKS keyserver (POSTERN_KL_KEYSERVER,
 *	     GET /vks/v1/by-email/<address>), over HTTPS with verified TLS,
 *	     timeouts and a size bound. A key counts only if GnuPG finds it
 *	     usable for encryption, unrevoked, unexpired, with a user id of
 *	     exactly the address. Answers are cached under "kld:<address>"
 *	     (read even by fresh lookups): a key POSTERN_KL_DISC_TTL_FOUND,
 *	     no key POSTERN_KL_DISC_TTL_NONE, a failure (down, timeout, too
 *	     large) POSTERN_KL_DISC_TTL_FAIL - a failure is a NONE for a
 *	     while, never an error. A key found for an address that has a
 *	     mailbox graduates it: mailstore SetOwnKey stores the key with
 *	     the mailbox and queues one mail telling the recipient.
 *	Cache and freshness: a NONE that was cached just before provision
 *	creates a mailbox would be wrong for up to its TTL. Two things keep
 *	that harmless: KeyLookup.fresh = true skips the cache read (provision
 *	sets it whenever it is about to act on the answer, and the fresh
 *	answer overwrites the cache entry), and the NONE and GUEST TTLs are
 *	short (300 s) so a sender's client sees a new mailbox or a new key
 *	within minutes. A KEY_FOUND is stable and cached for an hour. No other
 *	service writes kl:* keys.
 * PROTOCOL
 *	MDP/0.1 worker for "keylookup"; request postern.v1.KeylookupRequest
 *	(ping | lookup), reply postern.v1.KeylookupReply
 *	(proto/postern/v1/keylookup.proto). More than POSTERN_KL_MAX_ADDRESSES
 *	addresses: STATUS_TOO_LARGE. KeyLookup.with_mailbox (with fresh;
 *	role "service" only, others get STATUS_PERM): each GUEST result
 *	carries what mailstore just said of the mailbox (id, state, guest
 *	public key, fingerprint, language), never cached, so that provision
 *	needs no GetMailbox of its own on the send path. Keyring or mailstore unreachable:
 *	STATUS_TEMP for the whole batch (NONE could be a lie); Redis
 *	unreachable only makes lookups slower.
 * ENVIRONMENT
 *	The common variables (lib/include/postern/service.h); health port
 *	default 9101. Then:
 *	POSTERN_REDIS             127.0.0.1:6379 (host:port, unix:/path or
 *	                          sentinel://NAME@host:port,...: docs/ha.md)
 *	POSTERN_REDIS_PASSWORD    empty (secret; or POSTERN_REDIS_PASSWORD_FILE)
 *	POSTERN_REDIS_TIMEOUT_MS  1000 (10..60000)
 *	POSTERN_KEYRING_DIR       var/keyring (GnuPG home, path <= 80 chars)
 *	POSTERN_KL_TTL_FOUND      3600 (0..604800) seconds; 0 = do not cache
 *	POSTERN_KL_TTL_GUEST      300 (0..604800)
 *	POSTERN_KL_TTL_NONE       300 (0..604800)
 *	POSTERN_KL_MAX_ADDRESSES  1000 (1..100000)
 *	POSTERN_KL_WKD            0 (0..1) ask the Web Key Directory
 *	POSTERN_KL_KEYSERVER      empty (off), or an https:// VKS base URL
 *	                          such as https://keys.openpgp.org
 *	POSTERN_KL_HTTP_TIMEOUT_MS  3000 (100..60000) per discovery request
 *	POSTERN_KL_HTTP_CONNECT_MS  2000 (100..60000) connect part of it
 *	POSTERN_KL_HTTP_MAX_BYTES   262144 (4096..1048576) largest answer
 *	POSTERN_KL_HTTP_PARALLEL    16 (1..256) connections at a time
 *	POSTERN_KL_HTTP_CA_FILE     empty (the system's CAs) or a PEM file
 *	POSTERN_KL_HTTP_CONNECT_TO  empty, or curl CONNECT_TO entries
 *	                          "HOST:PORT:CONNECT-HOST:CONNECT-PORT,..."
 *	                          (split horizon; the tests' loopback server)
 *	POSTERN_KL_DISC_TTL_FOUND 86400 (0..604800)
 *	POSTERN_KL_DISC_TTL_NONE  3600 (0..604800)
 *	POSTERN_KL_DISC_TTL_FAIL  300 (0..604800)
 *	POSTERN_PUBLIC_URL        http://127.0.0.1:8080 - the web UI, named in
 *	                          the graduation mail
 *	POSTERN_INVITE_FROM       "Postern <postern@localhost>" - its From
 *	                          (its SMTP sender is <>, as for automatic mail)
 *	Branding and languages of the graduation mail (lib/src/brand.c;
 *	docs/configuration.md), the same values as provision's:
 *	POSTERN_PRODUCT_NAME, POSTERN_ORG_NAME, POSTERN_LOGO_FILE,
 *	POSTERN_PRIMARY_COLOR, POSTERN_IMPRINT_URL, POSTERN_PRIVACY_URL,
 *	POSTERN_SUPPORT_CONTACT, POSTERN_DEFAULT_LOCALE (en),
 *	POSTERN_LOCALE_DIR (empty: locale/ beside bin/), POSTERN_TEMPLATE_DIR
 *	(the template "graduated", checked at start: an unknown variable
 *	stops the service), POSTERN_ORG_UTC_OFFSET. The mail is written in
 *	the mailbox's language.
 * SECURITY
 *	CURVE client of the broker with its own certificate, also for its
 *	calls to mailstore. Reads only public keys; never logs addresses'
 *	keys. The keyring directory is created mode 0700. Discovery tells
 *	the recipient's domain (WKD) or the keyserver (VKS) that someone
 *	looks for the address - off by default for that reason; it never
 *	logs addresses or URLs. Discovered keys are only listed by GnuPG,
 *	never imported into the keyring.
 * DIAGNOSTICS
 *	logfmt lines on stderr, one per batch with counts (never the keys);
 *	metrics postern_keylookup_results_total{kind},
 *	postern_keylookup_discovered_total (answers with a key from WKD or
 *	VKS, fetched now or kept in kld:), postern_keylookup_graduated_total;
 *	exit 0 after SIGTERM,
 *	1 if it cannot start, 2 on bad configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/pb.h"
#include "postern/roles.h"
#include "postern/service.h"
#include "kl.h"

static char *cf_redis, *cf_redis_password, *cf_keyring;
static long cf_redis_timeout, cf_ttl_found, cf_ttl_guest, cf_ttl_none, cf_max;
static char *cf_keyserver, *cf_ca_file, *cf_connect_to, *cf_public_url, *cf_from;
static long cf_wkd, cf_http_timeout, cf_http_connect, cf_http_max, cf_http_parallel;
static long cf_disc_found, cf_disc_none, cf_disc_fail;
static pn_brand cf_brand;

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_REDIS", "127.0.0.1:6379", &cf_redis, PN_CFG_REQUIRED,
	    "Redis for the lookup cache, host:port, unix:/path or sentinel://NAME@host:port,..."),
	PN_CFG_STR("POSTERN_REDIS_PASSWORD", "", &cf_redis_password, PN_CFG_SECRET,
	    "Redis AUTH password"),
	PN_CFG_INT("POSTERN_REDIS_TIMEOUT_MS", 1000, 10, 60000, &cf_redis_timeout,
	    "Redis connect and command timeout"),
	PN_CFG_STR("POSTERN_KEYRING_DIR", "var/keyring", &cf_keyring, PN_CFG_REQUIRED,
	    "GnuPG home with the organisation's public keys"),
	PN_CFG_INT("POSTERN_KL_TTL_FOUND", 3600, 0, 604800, &cf_ttl_found,
	    "seconds a KEY_FOUND stays cached (0 = not cached)"),
	PN_CFG_INT("POSTERN_KL_TTL_GUEST", 300, 0, 604800, &cf_ttl_guest,
	    "seconds a GUEST stays cached (0 = not cached)"),
	PN_CFG_INT("POSTERN_KL_TTL_NONE", 300, 0, 604800, &cf_ttl_none,
	    "seconds a NONE stays cached (0 = not cached)"),
	PN_CFG_INT("POSTERN_KL_MAX_ADDRESSES", 1000, 1, 100000, &cf_max,
	    "addresses per request"),
	PN_CFG_INT("POSTERN_KL_WKD", 0, 0, 1, &cf_wkd,
	    "1 = discover keys in the Web Key Directory of the address's domain"),
	PN_CFG_STR("POSTERN_KL_KEYSERVER", "", &cf_keyserver, 0,
	    "VKS keyserver base URL (https://...) for discovery; empty = none"),
	PN_CFG_INT("POSTERN_KL_HTTP_TIMEOUT_MS", 3000, 100, 60000, &cf_http_timeout,
	    "whole discovery request"),
	PN_CFG_INT("POSTERN_KL_HTTP_CONNECT_MS", 2000, 100, 60000, &cf_http_connect,
	    "connect part of a discovery request"),
	PN_CFG_INT("POSTERN_KL_HTTP_MAX_BYTES", 262144, 4096, 1048576, &cf_http_max,
	    "largest discovery answer"),
	PN_CFG_INT("POSTERN_KL_HTTP_PARALLEL", 16, 1, 256, &cf_http_parallel,
	    "discovery connections at a time"),
	PN_CFG_STR("POSTERN_KL_HTTP_CA_FILE", "", &cf_ca_file, 0,
	    "PEM file of CAs for discovery; empty = the system's"),
	PN_CFG_STR("POSTERN_KL_HTTP_CONNECT_TO", "", &cf_connect_to, 0,
	    "curl CONNECT_TO entries for discovery, comma-separated (split horizon, tests)"),
	PN_CFG_INT("POSTERN_KL_DISC_TTL_FOUND", 86400, 0, 604800, &cf_disc_found,
	    "seconds a discovered key stays cached"),
	PN_CFG_INT("POSTERN_KL_DISC_TTL_NONE", 3600, 0, 604800, &cf_disc_none,
	    "seconds a discovery without a usable key stays cached"),
	PN_CFG_INT("POSTERN_KL_DISC_TTL_FAIL", 300, 0, 604800, &cf_disc_fail,
	    "seconds a failed discovery (down, timeout, too large) stays cached"),
	PN_CFG_STR("POSTERN_PUBLIC_URL", "http://127.0.0.1:8080", &cf_public_url, 0,
	    "the web UI as recipients reach it, named in the graduation mail"),
	PN_CFG_STR("POSTERN_INVITE_FROM", "Postern <postern@localhost>", &cf_from, 0,
	    "From of the graduation mail"),
	PN_BRAND_CFG(&cf_brand),
	PN_CFG_END
};

typedef struct kl_state {
	kl_backends b;
	kl_sources src;
	kl_limits lim;
} kl_state;

static void kl_fini(pn_ctx *ctx);
static int kl_discovery_setup(kl_backends *b, pn_ctx *ctx);

/* kl_init - open the cache, the keyring and the mailstore client */
static int kl_init(pn_ctx *ctx)
{
	kl_state *st = pn_calloc(1, sizeof(*st));
	char err[512];

	pn_ctx_set_state(ctx, st);
	if (pn_brand_load(&cf_brand, kl_templates, kl_n_templates, err, sizeof(err)) < 0) {
		pn_error("msg=\"cannot start: %s\"", err);
		goto fail;
	}
	st->lim.max_addresses = cf_max;
	st->lim.ttl_found = cf_ttl_found;
	st->lim.ttl_guest = cf_ttl_guest;
	st->lim.ttl_none = cf_ttl_none;
	st->lim.ttl_disc_found = cf_disc_found;
	st->lim.ttl_disc_none = cf_disc_none;
	st->lim.ttl_disc_fail = cf_disc_fail;
	if (!(st->b.redis = pn_redis_open(cf_redis, cf_redis_password, cf_redis_timeout)))
		goto fail;
	if (!(st->b.keyring = pn_gpg_open(cf_keyring, 0)))
		goto fail;
	if (!(st->b.mailstore = pn_client_new(pn_ctx_bus(ctx))))
		goto fail;
	if (kl_discovery_setup(&st->b, ctx) < 0)
		goto fail;
	kl_sources_real(&st->src, &st->b);
	pn_info("msg=\"keylookup ready\" keyring=%s redis=%s ttl_found=%ld ttl_guest=%ld ttl_none=%ld max=%ld",
	    cf_keyring, cf_redis, cf_ttl_found, cf_ttl_guest, cf_ttl_none, cf_max);
	return 0;
fail:
	kl_fini(ctx);
	return -1;
}

/* kl_discovery_setup - discovery's settings; -1 if the keyserver is not https */
static int kl_discovery_setup(kl_backends *b, pn_ctx *ctx)
{
	kl_discovery *d = &b->discovery;

	(void)ctx;
	if (*cf_keyserver && strncmp(cf_keyserver, "https://", 8)) {
		pn_error("msg=\"POSTERN_KL_KEYSERVER must be an https:// URL\"");
		return -1;
	}
	d->wkd = cf_wkd != 0;
	d->keyserver = cf_keyserver;
	d->gpg = b->keyring;
	d->http.timeout_ms = cf_http_timeout;
	d->http.connect_timeout_ms = cf_http_connect < cf_http_timeout ? cf_http_connect :
	    cf_http_timeout;
	d->http.max_bytes = (size_t)cf_http_max;
	d->http.parallel = cf_http_parallel;
	d->http.ca_file = cf_ca_file;
	d->http.connect_to = cf_connect_to;
	b->notice.from = cf_from;
	b->notice.return_path = "";     /* automatic mail: the null sender <> */
	b->notice.public_url = cf_public_url;
	b->notice.brand = &cf_brand;
	pn_info("msg=\"key discovery\" wkd=%d keyserver=%s timeout_ms=%ld max_bytes=%ld",
	    d->wkd, *cf_keyserver ? "on" : "off", cf_http_timeout, cf_http_max);
	return 0;
}

/* kl_fini - close what kl_init opened */
static void kl_fini(pn_ctx *ctx)
{
	kl_state *st = pn_ctx_state(ctx);

	if (!st)
		return;
	pn_client_destroy(&st->b.mailstore);
	pn_gpg_close(&st->b.keyring);
	pn_redis_close(&st->b.redis);
	pn_brand_fini(&cf_brand);
	free(st);
	pn_ctx_set_state(ctx, NULL);
}

/* count - add n to the results counter of one kind */
static void count(const char *name, size_t n)
{
	if (n)
		pn_metrics_add(name, "key lookup results by kind", (double)n);
}

/* op_lookup - KeyLookup -> KeyLookupResult */
static pn_err op_lookup(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__KeylookupRequest *req = (const Postern__V1__KeylookupRequest *)request;
	Postern__V1__KeylookupReply *rep = (Postern__V1__KeylookupReply *)reply;
	const Postern__V1__KeyLookup *kl = req->lookup;
	kl_state *st = pn_ctx_state(ctx);
	Postern__V1__KeyLookupResult *out = (Postern__V1__KeyLookupResult *)pn_pb_new(
	    &postern__v1__key_lookup_result__descriptor, pool);
	const char *why = NULL;
	kl_stats stats;
	pn_err rc;

	if (!kl) {
		pn_ctx_error(ctx, "lookup without body");
		return PN_ERR_PARAMS;
	}
	if (kl->with_mailbox && !(pn_ctx_caller_role(ctx) & PN_ROLE_SERVICE)) {
		pn_ctx_error(ctx, "with_mailbox is for Postern's own services (role service)");
		return PN_ERR_PERM;
	}
	rc = kl_lookup(&st->src, &st->lim, kl->addresses, kl->n_addresses,
	    (kl->fresh ? KL_FRESH : 0) | (kl->with_mailbox ? KL_WITH_MAILBOX : 0),
	    out, &stats, pool, &why);
	if (rc != PN_OK) {
		pn_ctx_error(ctx, "%s", why ? why : pn_err_str(rc));
		return rc;
	}
	rep->result_case = POSTERN__V1__KEYLOOKUP_REPLY__RESULT_LOOKUP;
	rep->lookup = out;
	count("postern_keylookup_results_total{kind=\"invalid\"}", stats.invalid);
	count("postern_keylookup_results_total{kind=\"cached\"}", stats.cached);
	count("postern_keylookup_results_total{kind=\"key_found\"}", stats.found);
	count("postern_keylookup_results_total{kind=\"guest\"}", stats.guest);
	count("postern_keylookup_results_total{kind=\"none\"}", stats.none);
	count("postern_keylookup_discovered_total", stats.discovered);
	count("postern_keylookup_graduated_total", stats.graduated);
	pn_info("msg=lookup addresses=%zu fresh=%d invalid=%zu cached=%zu found=%zu guest=%zu none=%zu"
	    " discovered=%zu graduated=%zu", kl->n_addresses, kl->fresh ? 1 : 0, stats.invalid,
	    stats.cached, stats.found, stats.guest, stats.none, stats.discovered, stats.graduated);
	return PN_OK;
}

static const pn_op ops[] = {
	{ POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING, "ping", pn_op_ping },
	{ POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP, "lookup", op_lookup },
	PN_OP_END
};

static const pn_service service = {
	.name = "keylookup",
	.summary = "answers whether an OpenPGP key is known for an address",
	.health_port = 9101,
	.config = config,
	.request = &postern__v1__keylookup_request__descriptor,
	.reply = &postern__v1__keylookup_reply__descriptor,
	.ops = ops,
	.init = kl_init,
	.fini = kl_fini,
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
