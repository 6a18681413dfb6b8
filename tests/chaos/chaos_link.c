/*
 * chaos_link.c - do the secrets a recipient was given open the mailbox?
 *
 * Every invitation at the SMTP sink carries a link; the link's hash must
 * be the one stored with the mailbox of the invitation's recipient (a
 * retried event under a fault must not mail one link and store another).
 * Every PIN an acked event answered for a mailbox it created must pass
 * provision's PinVerify with that link: all of them in a short run, an
 * even sample of PIN_CHECKS in a long one (each takes a bus round trip).
 * A right PIN changes nothing (PinVerify counts failures only).
 *
 * The links are test data, yet treated as the secrets they model: kept
 * only in memory during the check, wiped after, never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "chaos.h"
#include "postern/err.h"
#include "postern/guest.h"
#include "postern/mem.h"
#include "postern/v1/provision.pb-c.h"

#define LINK_PREFIX "http://postern.test/m/"
#define LINK_TEXT (PN_GUEST_PASS_TEXT - 1)
#define PIN_CHECKS 400

/* chaos_link_of - the link text in an invitation (copied into out), 0 if none */
int chaos_link_of(const char *mail, char out[PN_GUEST_PASS_TEXT])
{
	const char *p = strstr(mail, LINK_PREFIX);

	if (p == NULL)
		return 0;
	p += strlen(LINK_PREFIX);
	if (strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
	    LINK_TEXT)
		return 0;
	memcpy(out, p, LINK_TEXT);
	out[LINK_TEXT] = '\0';
	return 1;
}

typedef struct mailbox {
	long long id;
	uint8_t hash[PN_GUEST_HASH_BYTES];
	int has_hash;
} mailbox;

/* load_mailboxes - address -> mailbox, from PostgreSQL */
static GHashTable *load_mailboxes(chaos_run *r)
{
	GHashTable *all = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	PGconn *conn = PQconnectdb(r->st.dsn);
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("chaos: cannot reach the database: %s", PQerrorMessage(conn));
	res = PQexec(conn, "SELECT id, address, coalesce(encode(link_hash, 'hex'), '') FROM mailboxes");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("chaos: mailboxes: %s", PQerrorMessage(conn));
	for (int row = 0; row < PQntuples(res); row++) {
		mailbox *m = g_new0(mailbox, 1);
		const char *hex = PQgetvalue(res, row, 2);
		m->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		m->has_hash = sodium_hex2bin(m->hash, sizeof(m->hash), hex, strlen(hex), NULL,
		    NULL, NULL) == 0;
		g_hash_table_insert(all, g_strdup(PQgetvalue(res, row, 1)), m);
	}
	PQclear(res);
	PQfinish(conn);
	return all;
}

/* link_opens - does the link text hash to the mailbox's link_hash? */
static int link_opens(const char *text, const mailbox *m, uint8_t link[PN_GUEST_LINK_BYTES])
{
	uint8_t hash[PN_GUEST_HASH_BYTES];

	if (!m->has_hash ||
	    pn_b64url_decode(link, PN_GUEST_LINK_BYTES, text, strlen(text)) != PN_GUEST_LINK_BYTES)
		return 0;
	pn_guest_link_hash(link, hash);
	return sodium_memcmp(hash, m->hash, sizeof(hash)) == 0;
}

/* pin_opens - PinVerify of pin with the link: PIN_OK? */
static int pin_opens(chaos_run *r, const mailbox *m, const uint8_t link[PN_GUEST_LINK_BYTES],
    const char *pin)
{
	Postern__V1__PinVerify pv = POSTERN__V1__PIN_VERIFY__INIT;
	Postern__V1__PinVerdict *v = NULL;
	pn_pool *pool = pn_pool_new();
	const char *why = NULL;
	pn_err err;
	int ok;

	pv.mailbox_id = m->id;
	pv.link_secret.data = (uint8_t *)link;
	pv.link_secret.len = PN_GUEST_LINK_BYTES;
	pv.pin = (char *)pin;
	pv.client = "chaos-check";
	err = pn_prov_pin_verify(r->client[0], pool, &pv, &v, &why);
	ok = err == PN_OK && v->verdict == POSTERN__V1__PIN_VERDICT__VERDICT__PIN_OK;
	if (err != PN_OK)
		printf("chaos: PinVerify of mailbox %lld: %s: %s\n", m->id, pn_err_str(err),
		    why ? why : "");
	pn_pool_destroy(&pool);
	return ok;
}

/* check_pins - the PINs answered for created mailboxes, all or an even sample */
static void check_pins(chaos_run *r, GHashTable *links, GHashTable *boxes)
{
	int total = 0, seen = 0, stride;

	for (int i = 0; i < r->events; i++)
		for (int j = 0; r->ev[i].acked && j < r->ev[i].n; j++)
			total += r->ev[i].pin[j][0] != '\0';
	stride = total > PIN_CHECKS ? (total + PIN_CHECKS - 1) / PIN_CHECKS : 1;
	for (int i = 0; i < r->events; i++) {
		chaos_event *ev = &r->ev[i];
		for (int j = 0; ev->acked && j < ev->n; j++) {
			const char *text = g_hash_table_lookup(links, ev->rcpt[j]);
			const mailbox *m = g_hash_table_lookup(boxes, ev->rcpt[j]);
			uint8_t link[PN_GUEST_LINK_BYTES];
			if (ev->pin[j][0] == '\0' || seen++ % stride != 0)
				continue;
			r->tot.pins_checked++;
			if (text == NULL || m == NULL || !link_opens(text, m, link) ||
			    !pin_opens(r, m, link, ev->pin[j])) {
				r->tot.wrong_pin++;
				printf("chaos: finding: event ch-%d: the PIN answered for %s does not "
				    "open its mailbox\n", i, ev->rcpt[j]);
			}
			sodium_memzero(link, sizeof(link));
		}
	}
}

/* wipe_link - GHashTable value destructor for link texts */
static void wipe_link(gpointer p)
{
	sodium_memzero(p, strlen(p));
	g_free(p);
}

/* chaos_links_new - address -> link text of its invitation (values wiped when destroyed) */
GHashTable *chaos_links_new(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, wipe_link);
}

/* chaos_links_check - every invitation's link, and the PINs; counted in r->tot */
void chaos_links_check(chaos_run *r, GHashTable *links)
{
	GHashTable *boxes = load_mailboxes(r);
	GHashTableIter it;
	gpointer addr, text;

	g_hash_table_iter_init(&it, links);
	while (g_hash_table_iter_next(&it, &addr, &text)) {
		const mailbox *m = g_hash_table_lookup(boxes, addr);
		uint8_t link[PN_GUEST_LINK_BYTES];
		r->tot.links_checked++;
		if (m == NULL || !link_opens(text, m, link)) {
			r->tot.wrong_link++;
			printf("chaos: finding: the invitation to %s has a link that does not open "
			    "its mailbox\n", (const char *)addr);
		}
		sodium_memzero(link, sizeof(link));
	}
	check_pins(r, links, boxes);
	g_hash_table_destroy(boxes);
	r->tot.wrong += r->tot.wrong_link + r->tot.wrong_pin;
}
