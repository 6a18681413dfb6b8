/*
 * web_cfg.h - the web UI's configuration, one struct filled from main.c's
 * table before init and read-only afterwards. Owns: struct web_config,
 * web_cfg (defined in web_cfg.c, so that unit tests link it without main.c).
 */
#ifndef POSTERN_WEB_CFG_H
#define POSTERN_WEB_CFG_H

#include <stddef.h>

#include "postern/brand.h"

struct web_config {
	char *listen;
	long threads;
	char *redis;
	char *redis_password;
	long redis_timeout_ms;
	char *gnupghome;
	long s2k_fast;
	long s2k_strong;            /* 0 = GnuPG's calibrated default */
	char *blocklist;
	long password_min;
	long password_max;
	long session_idle;          /* seconds */
	long session_max;           /* seconds */
	long flow_ttl;              /* seconds a link visit stays usable */
	int insecure_cookies;
	int trust_proxy;
	long inactivity_days;
	long max_body;
	long page_size;
	long login_lockout_after;
	long login_lockout_seconds;
	long login_client_max;
	long login_client_window;
	long reply_max_attach;      /* bytes of a reply's attachments together */
	long reply_max;             /* replies per mailbox ... */
	long reply_window;          /* ... in this many seconds */
	long page_cache;            /* slots of the folder page cache (0 = off) */
	long page_cache_age;        /* seconds a kept page may be shown */
	long message_cache;         /* slots of the message cache (0 = off) */
	long message_cache_age;     /* seconds a kept message may be used */
	long message_cache_bytes;   /* sealed bytes of all kept messages */
	long recovery_lockout_after;    /* wrong recovery codes before lock-outs */
	long recovery_lockout_seconds;  /* first lock-out, doubling */
	long recovery_max_failures;     /* then recovery is closed for the address */
	char *invite_from;          /* From of the recovery notice to the sender */
	int remote_images;          /* offer "show remote images" (through web_proxy.c) */
	int image_proxy_private;    /* the proxy may connect to private addresses (tests) */
	long own_key_max;           /* bytes of an uploaded public key */
	long export_max;            /* bytes of an export archive (before encryption) */
	pn_brand brand;             /* names, logo, colour, languages (web_lang.c) */
};
extern struct web_config web_cfg;

#endif
