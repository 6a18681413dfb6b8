/*
 * chaos_link.c - do the secrets a recipient was given open the mailbox?
 *
 * Every invitation at the SMTP sink carries a link. A mailbox still
 * pending is re-issued by the next event to it (a new link, a new PIN;
 * the old link stops working), so of all the invitations an address got,
 * exactly one - the last issue's - must hash to the link_hash stored with
 * the mailbox (a retried event under a fault must not mail one link and
 * store another). The PIN that the issuing event (the creator, or the
 * last re-issuer) answered must pass provision's PinVerify with that
 * link: all of them in a short run, an even sample of PIN_CHECKS in a
 * long one (each takes a bus round trip). A right PIN changes nothing
 * (PinVerify counts failures only).
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
	int issuer;                      /* event that created or last re-issued it, -1 */
	int opens;                       /* invitation links that open it */
	uint8_t link[PN_GUEST_LINK_BYTES];   /* the one that does */
} mailbox;

/* wipe_box - GHashTable value destructor for mailboxes (the link they hold) */
static void wipe_box(gpointer p)
{
	sodium_memzero(p, sizeof(mailbox));
	g_free(p);
}

/* load_mailboxes - address -> mailbox, from PostgreSQL */
static GHashTable *load_mailboxes(chaos_run *r)
{
	GHashTable *all = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, wipe_box);
	PGconn *conn = PQconnectdb(r->st.dsn);
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("chaos: cannot reach the database: %s", PQerrorMessage(conn));
	res = PQexec(conn, "SELECT id, address, coalesce(encode(link_hash, 'hex'), ''), "
	    "CASE WHEN reissue_event <> '' THEN reissue_event ELSE created_event END FROM mailboxes");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("chaos: mailboxes: %s", PQerrorMessage(conn));
	for (int row = 0; row < PQntuples(res); row++) {
		mailbox *m = g_new0(mailbox, 1);
		const char *hex = PQgetvalue(res, row, 2);
		m->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		m->has_hash = sodium_hex2bin(m->hash, sizeof(m->hash), hex, strlen(hex), NULL,
		    NULL, NULL) == 0;
		m->issuer = strncmp(PQgetvalue(res, row, 3), "ch-", 3) ? -1 :
		    atoi(PQgetvalue(res, row, 3) + 3);
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
	/* the web UI's role: publishers may not verify PINs */
	err = pn_prov_pin_verify(th_caller(&r->st.callers, "provision",
	    POSTERN__V1__PROVISION_REQUEST__OP_PIN_VERIFY), pool, &pv, &v, &why);
	ok = err == PN_OK && v->verdict == POSTERN__V1__PIN_VERDICT__VERDICT__PIN_OK;
	if (err != PN_OK)
		printf("chaos: PinVerify of mailbox %lld: %s: %s\n", m->id, pn_err_str(err),
		    why ? why : "");
	pn_pool_destroy(&pool);
	return ok;
}

/* issued_pin - the PIN the issuing event answered for address, NULL if none */
static const char *issued_pin(const chaos_run *r, const mailbox *m, const char *address)
{
	const chaos_event *ev;

	if (m->issuer < 0 || m->issuer >= r->events || !(ev = &r->ev[m->issuer])->acked)
		return NULL;
	for (int j = 0; j < ev->n; j++)
		if (!strcmp(ev->rcpt[j], address) && ev->pin[j][0] != '\0')
			return ev->pin[j];
	return NULL;
}

/* check_pins - the issuing events' PINs, all or an even sample */
static void check_pins(chaos_run *r, GHashTable *boxes)
{
	GHashTableIter it;
	gpointer addr, value;
	int total = 0, seen = 0, stride;

	g_hash_table_iter_init(&it, boxes);
	while (g_hash_table_iter_next(&it, &addr, &value))
		total += issued_pin(r, value, addr) != NULL;
	stride = total > PIN_CHECKS ? (total + PIN_CHECKS - 1) / PIN_CHECKS : 1;
	g_hash_table_iter_init(&it, boxes);
	while (g_hash_table_iter_next(&it, &addr, &value)) {
		mailbox *m = value;
		const char *pin = issued_pin(r, m, addr);
		if (pin == NULL || seen++ % stride != 0)
			continue;
		r->tot.pins_checked++;
		if (m->opens != 1 || !pin_opens(r, m, m->link, pin)) {
			r->tot.wrong_pin++;
			printf("chaos: finding: event ch-%d: the PIN answered for %s does not open "
			    "its mailbox\n", m->issuer, (const char *)addr);
		}
	}
}

/* wipe_links - GHashTable value destructor: every link text wiped */
static void wipe_links(gpointer p)
{
	GPtrArray *a = p;

	for (guint i = 0; i < a->len; i++) {
		char *text = g_ptr_array_index(a, i);
		sodium_memzero(text, strlen(text));
		g_free(text);
	}
	g_ptr_array_free(a, TRUE);
}

/* chaos_links_new - address -> its invitations' link texts (wiped when destroyed) */
GHashTable *chaos_links_new(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, wipe_links);
}

/* chaos_links_add - one more invitation link for address */
void chaos_links_add(GHashTable *links, const char *address, const char *text)
{
	GPtrArray *a = g_hash_table_lookup(links, address);

	if (a == NULL) {
		a = g_ptr_array_new();
		g_hash_table_insert(links, g_strdup(address), a);
	}
	g_ptr_array_add(a, g_strdup(text));
}

/* chaos_links_check - one invitation link opens each mailbox, and the PINs; counted in r->tot */
void chaos_links_check(chaos_run *r, GHashTable *links)
{
	GHashTable *boxes = load_mailboxes(r);
	GHashTableIter it;
	gpointer addr, value;

	g_hash_table_iter_init(&it, links);
	while (g_hash_table_iter_next(&it, &addr, &value)) {
		GPtrArray *a = value;
		mailbox *m = g_hash_table_lookup(boxes, addr);
		uint8_t link[PN_GUEST_LINK_BYTES];
		for (guint i = 0; m != NULL && i < a->len; i++)
			if (link_opens(g_ptr_array_index(a, i), m, link) && m->opens++ == 0)
				memcpy(m->link, link, sizeof(link));
		sodium_memzero(link, sizeof(link));
		r->tot.links_checked++;
		if (m == NULL || m->opens != 1) {
			r->tot.wrong_link++;
			printf("chaos: finding: of the %u invitations to %s, %d open its mailbox\n",
			    a->len, (const char *)addr, m ? m->opens : 0);
		}
	}
	check_pins(r, boxes);
	g_hash_table_destroy(boxes);
	r->tot.wrong += r->tot.wrong_link + r->tot.wrong_pin;
}
