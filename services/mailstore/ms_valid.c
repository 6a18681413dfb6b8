/*
 * ms_valid.c - what mailstore accepts, decided before any SQL runs.
 *
 * Everything that arrives over the bus is untrusted even though only our
 * own services can reach it: a bug in a caller must end in a clear
 * STATUS_BAD_REQUEST, not in a stored row nobody can read or an SMTP
 * command line with an injected CRLF. The checks are deliberately plain
 * checks: addresses are bare and normalised by lib's one definition
 * (pn_addr_normalise), so a mailbox is found under the same string that
 * provision and keylookup use; ids are short printable ASCII; sizes are
 * bounded by configuration.
 *
 * Also here: the small pure policies the unit tests pin down (back-off,
 * list limits, enum names).
 */
#include <ctype.h>
#include <string.h>

#include "postern/addr.h"
#include "postern/throttle.h"
#include "ms.h"

/*
 * ms_address_norm - a bare address, normalised as every service does it
 * (lib/src/addr.c: local part as given, domain lower case), or NULL.
 * Display names and angle brackets, which pn_addr_normalise would strip,
 * are refused here: mailstore stores and sends exactly what it checked.
 */
char *ms_address_norm(const char *in, pn_pool *pool, const char **why_r)
{
	char out[PN_ADDR_MAX + 1];
	size_t len;

	*why_r = NULL;
	if (in == NULL || in[0] == '\0') {
		*why_r = "address is empty";
		return NULL;
	}
	len = strlen(in);
	if (len > MS_ADDRESS_MAX) {
		*why_r = "address is longer than 254 bytes";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' ||
		    c == '(' || c == ')' || c == ',' || c == ';' || c == '\\') {
			*why_r = "address is not a bare address (space, control, non-ASCII or special character)";
			return NULL;
		}
	}
	if (pn_addr_normalise(in, out, sizeof(out), why_r) < 0) {
		if (*why_r == NULL)
			*why_r = "address is not valid";
		return NULL;
	}
	return pn_pool_strdup(pool, out);
}

/* ms_id_ok - 1..MS_ID_MAX bytes of printable ASCII */
int ms_id_ok(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n > MS_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x21 || id[i] > 0x7e)
			return 0;
	return 1;
}

/* receipt_to_ok - who asked for receipts: one printable address without spaces, <= 254 */
static int receipt_to_ok(const char *a)
{
	size_t n = strlen(a);
	const char *at = strchr(a, '@');

	if (n > MS_ADDRESS_MAX || !at || at == a || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 0x7f)
			return 0;
	return 1;
}

/* ms_check_message - a NewMessage to store */
pn_err ms_check_message(const Postern__V1__NewMessage *m, long max_bytes,
    const char **why_r)
{
	*why_r = NULL;
	if (m == NULL) {
		*why_r = "message is missing";
		return PN_ERR_PARAMS;
	}
	if (ms_folder_name(m->folder) == NULL) {
		*why_r = "message folder must be INBOX or SENT";
		return PN_ERR_PARAMS;
	}
	if (!ms_id_ok(m->event_id)) {
		*why_r = "message event_id must be 1..200 printable ASCII characters";
		return PN_ERR_PARAMS;
	}
	if (m->receipt_to && *m->receipt_to && (!receipt_to_ok(m->receipt_to) ||
	    m->folder != POSTERN__V1__FOLDER__FOLDER_INBOX)) {
		*why_r = "message receipt_to must be an address (at most 254 characters), INBOX only";
		return PN_ERR_PARAMS;
	}
	if (m->size < 0) {
		*why_r = "message size is negative";
		return PN_ERR_PARAMS;
	}
	if (m->sender && (strlen(m->sender) > MS_ADDRESS_MAX || !ms_text_ok(m->sender))) {
		*why_r = "message sender must be an address of at most 254 characters";
		return PN_ERR_PARAMS;
	}
	if (m->expires_at < 0 || m->expires_at > MS_TIME_MAX ||
	    (m->expires_at > 0 && m->folder != POSTERN__V1__FOLDER__FOLDER_INBOX)) {
		*why_r = "message expires_at must be 0 or a time (INBOX only)";
		return PN_ERR_PARAMS;
	}
	if ((m->body_upload.len > 0 || m->body_parts != 0 || m->body_len != 0) &&
	    (m->body.len > 0 || m->body_upload.len != MS_UPLOAD_ID_LEN ||
	    m->body_parts < 1 || m->body_parts > MS_PARTS_MAX || m->body_len < m->body_parts)) {
		*why_r = "message body_upload must be 16 bytes, with 1..4096 body_parts of "
		    "body_len bytes in all, and no body";
		return PN_ERR_PARAMS;
	}
	if (m->body.len == 0 && m->body_upload.len == 0) {
		*why_r = "message body is empty";
		return PN_ERR_PARAMS;
	}
	if (ms_body_len(m) > (size_t)max_bytes || m->envelope.len > (size_t)max_bytes ||
	    ms_body_len(m) + m->envelope.len > (size_t)max_bytes) {
		*why_r = "message is larger than POSTERN_MAILSTORE_MAX_STORED_BYTES";
		return PN_ERR_TOOLARGE;
	}
	return PN_OK;
}

/* ms_body_len - the body's length, carried or uploaded in parts */
size_t ms_body_len(const Postern__V1__NewMessage *m)
{
	return m->body_upload.len > 0 ? (size_t)m->body_len : m->body.len;
}

/* ms_check_part - an AppendPart; PN_OK, PN_ERR_PARAMS */
pn_err ms_check_part(const Postern__V1__AppendPart *p, const char **why_r)
{
	*why_r = NULL;
	if (p->upload.len != MS_UPLOAD_ID_LEN) {
		*why_r = "upload must be 16 bytes";
		return PN_ERR_PARAMS;
	}
	if (p->seq < 0 || p->seq >= MS_PARTS_MAX) {
		*why_r = "seq must be 0..4095";
		return PN_ERR_PARAMS;
	}
	if (p->data.len == 0 || p->data.len > MS_PART_MAX) {
		*why_r = "part data must be 1 byte .. 4 MiB";
		return PN_ERR_PARAMS;
	}
	return PN_OK;
}

/* ms_check_outmail - a mail for the outbox */
pn_err ms_check_outmail(const Postern__V1__OutMail *m, long max_bytes,
    pn_pool *pool, const char **why_r)
{
	const char *why;

	*why_r = NULL;
	if (m == NULL) {
		*why_r = "outgoing mail is missing";
		return PN_ERR_PARAMS;
	}
	if (!ms_id_ok(m->idem_key)) {
		*why_r = "outgoing mail idem_key must be 1..200 printable ASCII characters";
		return PN_ERR_PARAMS;
	}
	if (m->mail_from != NULL && m->mail_from[0] != '\0' &&
	    ms_address_norm(m->mail_from, pool, &why) == NULL) {
		*why_r = "outgoing mail sender is not a sane address";
		return PN_ERR_PARAMS;
	}
	if (m->n_rcpt_to == 0 || m->n_rcpt_to > MS_RCPT_MAX) {
		*why_r = "outgoing mail needs 1..100 recipients";
		return PN_ERR_PARAMS;
	}
	for (size_t i = 0; i < m->n_rcpt_to; i++)
		if (ms_address_norm(m->rcpt_to[i], pool, &why) == NULL) {
			*why_r = "outgoing mail recipient is not a sane address";
			return PN_ERR_PARAMS;
		}
	if (m->data.len == 0) {
		*why_r = "outgoing mail data is empty";
		return PN_ERR_PARAMS;
	}
	if (m->data.len > (size_t)max_bytes) {
		*why_r = "outgoing mail is larger than POSTERN_MAILSTORE_MAX_STORED_BYTES";
		return PN_ERR_TOOLARGE;
	}
	return PN_OK;
}

/* printable - a short string without control characters */
static int printable(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* ms_check_new_mailbox - what a mailbox to create must carry */
pn_err ms_check_new_mailbox(const Postern__V1__Mailbox *mb, pn_pool *pool,
    const char **why_r)
{
	const char *why;

	*why_r = NULL;
	if (mb->public_key.len == 0 || mb->public_key.len > MS_KEY_MAX) {
		*why_r = "new mailbox public_key must be 1..65536 bytes";
		return PN_ERR_PARAMS;
	}
	if (mb->secret_key.len == 0 || mb->secret_key.len > MS_KEY_MAX) {
		*why_r = "new mailbox secret_key must be 1..65536 bytes";
		return PN_ERR_PARAMS;
	}
	if (mb->fingerprint == NULL || mb->fingerprint[0] == '\0' ||
	    !printable(mb->fingerprint, MS_FPR_MAX)) {
		*why_r = "new mailbox fingerprint must be 1..128 printable characters";
		return PN_ERR_PARAMS;
	}
	if (mb->link_hash.len < MS_HASH_MIN || mb->link_hash.len > MS_HASH_MAX) {
		*why_r = "new mailbox link_hash must be 16..128 bytes";
		return PN_ERR_PARAMS;
	}
	if (mb->pin_verifier.len > MS_VERIFIER_MAX) {
		*why_r = "new mailbox pin_verifier is longer than 1024 bytes";
		return PN_ERR_PARAMS;
	}
	if (mb->reissue_box.len > MS_VERIFIER_MAX) {
		*why_r = "new mailbox reissue_box is longer than 1024 bytes";
		return PN_ERR_PARAMS;
	}
	if (mb->created_by != NULL && mb->created_by[0] != '\0' &&
	    ms_address_norm(mb->created_by, pool, &why) == NULL) {
		*why_r = "new mailbox created_by is not a sane address";
		return PN_ERR_PARAMS;
	}
	if (!ms_locale_ok(mb->locale)) {
		*why_r = "new mailbox locale must be at most 35 letters, digits or '-'";
		return PN_ERR_PARAMS;
	}
	return PN_OK;
}

/* ms_locale_ok - the shape the locale column accepts */
int ms_locale_ok(const char *locale)
{
	size_t n = locale ? strlen(locale) : 0;

	if (n > 35)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)locale[i]) && locale[i] != '-')
			return 0;
	return 1;
}

/* ms_list_limit - page size: 0 means the default */
int ms_list_limit(int32_t limit, int def, int max)
{
	if (limit == 0)
		return def;
	if (limit < 1 || limit > max)
		return -1;
	return limit;
}

/* ms_folder_name - enum to the column value */
const char *ms_folder_name(int folder)
{
	switch (folder) {
	case POSTERN__V1__FOLDER__FOLDER_INBOX:
		return "inbox";
	case POSTERN__V1__FOLDER__FOLDER_SENT:
		return "sent";
	default:
		return NULL;
	}
}

/* ms_folder_parse - column value to enum (UNSPECIFIED if unknown) */
int ms_folder_parse(const char *name)
{
	if (name && !strcmp(name, "inbox"))
		return POSTERN__V1__FOLDER__FOLDER_INBOX;
	if (name && !strcmp(name, "sent"))
		return POSTERN__V1__FOLDER__FOLDER_SENT;
	return POSTERN__V1__FOLDER__FOLDER_UNSPECIFIED;
}

/* ms_state_name - enum to the column value */
const char *ms_state_name(int state)
{
	switch (state) {
	case POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING:
		return "pending";
	case POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE:
		return "active";
	case POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED:
		return "locked";
	default:
		return NULL;
	}
}

/* ms_text_ok - no control characters (UTF-8 passes as it is) */
int ms_text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* ms_withdrawal_name - enum to the column value (NULL: not withdrawn) */
const char *ms_withdrawal_name(int w)
{
	switch (w) {
	case POSTERN__V1__WITHDRAWAL__WITHDRAWAL_REVOKED:
		return "revoked";
	case POSTERN__V1__WITHDRAWAL__WITHDRAWAL_EXPIRED:
		return "expired";
	default:
		return NULL;
	}
}

/* ms_withdrawal_parse - column value to enum (NONE if unknown or empty) */
int ms_withdrawal_parse(const char *name)
{
	if (name && !strcmp(name, "revoked"))
		return POSTERN__V1__WITHDRAWAL__WITHDRAWAL_REVOKED;
	if (name && !strcmp(name, "expired"))
		return POSTERN__V1__WITHDRAWAL__WITHDRAWAL_EXPIRED;
	return POSTERN__V1__WITHDRAWAL__WITHDRAWAL_NONE;
}

/* ms_state_parse - column value to enum (UNSPECIFIED if unknown) */
int ms_state_parse(const char *name)
{
	if (name && !strcmp(name, "pending"))
		return POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	if (name && !strcmp(name, "active"))
		return POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	if (name && !strcmp(name, "locked"))
		return POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED;
	return POSTERN__V1__MAILBOX_STATE__MAILBOX_STATE_UNSPECIFIED;
}

/* ms_backoff_ms - initial * 2^(attempts-1), capped (lib's pn_backoff); attempts < 1 counts as 1 */
long ms_backoff_ms(long attempts, long initial, long cap)
{
	return pn_backoff(attempts < 1 ? 1 : attempts, 1, initial, cap);
}

/* ms_rcpt_join - recipients joined with '\n' for string_to_array($n, E'\n') */
char *ms_rcpt_join(char *const *rcpt, size_t n, pn_pool *pool)
{
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(rcpt[i]) + 1;
	p = out = pn_pool_alloc(pool, len);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(rcpt[i]);

		if (i > 0)
			*p++ = '\n';
		memcpy(p, rcpt[i], l);
		p += l;
	}
	*p = '\0';
	return out;
}

/* ms_split_lines - text split at '\n' into pool strings ("" = none) */
char **ms_split_lines(const char *text, pn_pool *pool, size_t *n_r)
{
	size_t n = 0, i = 0;
	char **out, *copy, *p;

	*n_r = 0;
	if (text == NULL || *text == '\0')
		return NULL;
	for (const char *q = text; *q; q++)
		n += *q == '\n';
	out = pn_pool_alloc(pool, (n + 1) * sizeof(*out));
	copy = pn_pool_strdup(pool, text);
	for (p = copy; p != NULL && i <= n; i++) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		out[i] = p;
		p = nl ? nl + 1 : NULL;
	}
	*n_r = i;
	return out;
}
