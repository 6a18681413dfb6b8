/*
 * gw_policy.c - which mail is for Postern, and the name of its send event.
 *
 * A message is for Postern when its subject carries the tag (default
 * "[secure]", anywhere, any case), when it has the trigger header with
 * "yes", or when its sender's domain is listed as "always". The tags and
 * the header are instructions to the gateway, not part of the mail: they
 * are taken out before anyone sees it. Recipients whose domain is one of
 * the organisation's own stay with the MTA.
 *
 * The event id is a hash over facts that Postfix's own retry of the same
 * message repeats exactly: its Message-ID (or, without one, its Date and
 * Subject), the envelope sender, the sorted external recipients, whether
 * a PIN is asked for, and the body. Received: headers and queue ids
 * differ between tries and are left out, and so is a Message-ID the MTA
 * made itself: Postfix gives mail submitted without one (sendmail, then
 * pickup) a Message-ID built from the queue id of each try. The Date it
 * adds is the time the mail was first dropped, the same on every try.
 *
 * Pure: no milter, no bus, no I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "postern/addr.h"
#include "postern/mem.h"
#include "postern/mime.h"
#include "gw.h"

#define DOMAINS_MAX 1000

struct gw_domains {
	char **name;                /* lower case; ".x" = subdomains of x */
	size_t n;
};

/* trim - the span of s without surrounding white space */
static void trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* domain_ok - LDH labels separated by dots, at least one dot */
static int domain_ok(const char *d)
{
	char probe[PN_ADDR_MAX + 1];
	char addr[PN_ADDR_MAX + 8];

	if (strlen(d) > PN_ADDR_MAX - 2)
		return 0;
	snprintf(addr, sizeof(addr), "x@%s", d);
	return pn_addr_normalise(addr, probe, sizeof(probe), NULL) == 0;
}

/* gw_domains_parse - a comma-separated list into a set */
gw_domains *gw_domains_parse(const char *list, const char **why_r)
{
	gw_domains *d = pn_calloc(1, sizeof(*d));
	const char *p = list ? list : "";

	while (*p) {
		const char *end = strchr(p, ','), *s = p;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *name;

		p = end ? end + 1 : p + len;
		trim(&s, &len);
		if (len == 0)
			continue;
		name = pn_strndup(s, len);
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (!domain_ok(name[0] == '.' ? name + 1 : name) || d->n >= DOMAINS_MAX) {
			*why_r = d->n >= DOMAINS_MAX ? "more than 1000 domains" :
			    "a domain is not a valid DNS name (example.com or .example.com)";
			pn_free(&name);
			gw_domains_free(&d);
			return NULL;
		}
		d->name = pn_realloc(d->name, (d->n + 1) * sizeof(*d->name));
		d->name[d->n++] = name;
	}
	return d;
}

/* gw_domains_free - free the set (NULL-tolerant) */
void gw_domains_free(gw_domains **d)
{
	if (!*d)
		return;
	for (size_t i = 0; i < (*d)->n; i++)
		pn_free(&(*d)->name[i]);
	free((*d)->name);
	pn_free(d);
}

/* gw_domains_match - the domain of a normalised address is in the set */
int gw_domains_match(const gw_domains *d, const char *address)
{
	const char *at = address ? strrchr(address, '@') : NULL;
	size_t dl;

	if (!d || !at)
		return 0;
	at++;
	dl = strlen(at);
	for (size_t i = 0; i < d->n; i++) {
		const char *n = d->name[i];
		size_t nl = strlen(n);

		if (n[0] != '.') {
			if (!strcasecmp(at, n))
				return 1;
		} else if (dl > nl && !strcasecmp(at + dl - nl, n)) {
			return 1;
		}
	}
	return 0;
}

/* find_ci - first case-insensitive occurrence of needle in hay */
static const char *find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return NULL;
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return hay;
	return NULL;
}

/*
 * strip_plain - value without any occurrence of tag; runs of white space
 * where a tag stood become one space, none at the ends. NULL if absent.
 */
static char *strip_plain(const char *value, const char *tag)
{
	size_t tl = strlen(tag), n = 0;
	char *out;
	const char *p = value;

	if (!find_ci(value, tag))
		return NULL;
	out = pn_malloc(strlen(value) + 1);
	while (*p) {
		if (!strncasecmp(p, tag, tl)) {
			p += tl;
			/*
			 * the space before the tag and after it become one; a
			 * line fold there goes too, or a value could end in a
			 * line break or hold a line of only white space, which
			 * an MTA may take for the end of the header section
			 */
			while (n > 0 && strchr(" \t\r\n", out[n - 1]))
				n--;
			while (*p && strchr(" \t\r\n", *p))
				p++;
			if (n > 0 && *p)
				out[n++] = ' ';
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	return out;
}

/* gw_tag_strip - value without the tag, or NULL when it does not occur */
char *gw_tag_strip(const char *value, const char *tag, int *found_r)
{
	char *out, *decoded, *plain;

	*found_r = 0;
	if (!value || !tag || !*tag)
		return NULL;
	if ((out = strip_plain(value, tag)) != NULL) {
		*found_r = 1;
		return out;
	}
	if (!strstr(value, "=?"))
		return NULL;
	/* an encoded subject: look at its text, and encode what is left again */
	decoded = pn_mime_header_decode(value);
	plain = decoded ? strip_plain(decoded, tag) : NULL;
	pn_free(&decoded);
	if (!plain)
		return NULL;
	out = pn_mime_header_encode(plain);
	pn_free(&plain);
	*found_r = 1;
	return out;
}

/* gw_yes - the value says yes */
int gw_yes(const char *value)
{
	const char *s = value ? value : "";
	size_t len = strlen(s);

	trim(&s, &len);
	return (len == 3 && !strncasecmp(s, "yes", 3)) ||
	    (len == 4 && !strncasecmp(s, "true", 4)) || (len == 1 && s[0] == '1');
}

/* gw_mta_message_id - "<stamp.QUEUEID@host>": made by the MTA for this try */
int gw_mta_message_id(const char *message_id, const char *queue_id)
{
	char needle[80];

	if (!message_id || !queue_id || !*queue_id || strlen(queue_id) > 64)
		return 0;
	snprintf(needle, sizeof(needle), ".%s@", queue_id);
	return strstr(message_id, needle) != NULL;
}

/* cmp_str - qsort on strings */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* hash_field - one field into the hash, its length first: no two lists collide */
static void hash_field(crypto_generichash_state *h, const char *s)
{
	uint64_t len = s ? strlen(s) : 0;
	unsigned char n[8];

	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)(len >> (8 * i));
	crypto_generichash_update(h, n, sizeof(n));
	if (len)
		crypto_generichash_update(h, (const unsigned char *)s, len);
}

/* gw_event_id - "gw-" + hex BLAKE2b-256 over the facts */
void gw_event_id(const gw_facts *f, char out[GW_EVENT_ID_LEN + 1])
{
	crypto_generichash_state h;
	unsigned char digest[32];
	const char **sorted = pn_malloc((f->n_rcpt + 1) * sizeof(*sorted));
	int have_id = f->message_id && *f->message_id;

	memcpy(sorted, f->rcpt, f->n_rcpt * sizeof(*sorted));
	qsort(sorted, f->n_rcpt, sizeof(*sorted), cmp_str);
	crypto_generichash_init(&h, (const unsigned char *)"postern/gateway-event/v1", 24,
	    sizeof(digest));
	hash_field(&h, have_id ? f->message_id : "");
	hash_field(&h, have_id ? "" : f->date);
	hash_field(&h, have_id ? "" : f->subject);
	hash_field(&h, f->sender);
	hash_field(&h, f->with_pin ? "pin" : "");
	for (size_t i = 0; i < f->n_rcpt; i++)
		hash_field(&h, sorted[i]);
	crypto_generichash_update(&h, f->body_hash, 32);
	crypto_generichash_final(&h, digest, sizeof(digest));
	memcpy(out, "gw-", 3);
	sodium_bin2hex(out + 3, 65, digest, sizeof(digest));
	free(sorted);
}
