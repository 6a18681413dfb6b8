/*
 * web_folder.c - the folder pages, GET /inbox and /sent (?page=N).
 *
 * The rows of a page come from the page cache (web_pcache.c) while the
 * mailbox's folder version is the one they were kept under (the route's
 * preload reads that version with the session record), else from one
 * mailstore ListFolder, each envelope from the session's cache
 * (web_cache.c) or decrypted and then cached. Whoever changes a
 * mailbox's folders calls web_folders_changed. The rows are rendered by
 * a pure function, web_folder_rows_html.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/i18n.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/redis.h"
#include "web_folder.h"
#include "web_ownkey.h"
#include "web_bus.h"
#include "web_cache.h"
#include "web_cfg.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_mail.h"
#include "web_pcache.h"
#include "web_sess.h"
#include "web_text.h"
#include "web_util.h"

/*
 * web_folders_changed - after mailstore answered a change to the session's
 * mailbox (or failed to: a change may still have landed), kept folder
 * pages of it stop matching, in every replica (web_pcache.c)
 */
void web_folders_changed(web_req *rq)
{
	if (pn_redis_folders_changed(rq->t->redis, rq->sess.mailbox_id) != PN_OK)
		pn_warn("msg=\"cannot mark the mailbox's folders changed\" mailbox=%lld",
		    (long long)rq->sess.mailbox_id);
}

/* expires_days - days until the reaper deletes a mailbox last used then */
static long expires_days(web_req *rq, int64_t last_activity)
{
	long long left;

	if (last_activity <= 0)
		return -1;
	left = last_activity + web_cfg.inactivity_days * 86400LL - rq->now;
	return left <= 0 ? 0 : (long)((left + 86399) / 86400);
}

/*
 * page_envelopes - the envelopes of a folder page: from the session's
 * cache, the rest decrypted (one gpg run each) and written back in one
 * round trip. A Redis failure only costs the cache: every row is then
 * decrypted. An envelope that cannot be decrypted stays empty and is not
 * cached. Returns how many could not be decrypted.
 */
static size_t page_envelopes(web_req *rq, const Postern__V1__FolderPage *pg, web_env *env)
{
	size_t n = pg->n_messages, n_new = 0, n_bad = 0;
	int64_t *ids = pn_calloc(n ? n : 1, sizeof(*ids));
	int *hit = pn_calloc(n ? n : 1, sizeof(*hit));
	int *fresh = pn_calloc(n ? n : 1, sizeof(*fresh));

	for (size_t i = 0; i < n; i++)
		ids[i] = pg->messages[i]->id;
	if (web_env_cache_get(rq->t->redis, &rq->sess, ids, n, env, hit) < 0)
		memset(hit, 0, (n ? n : 1) * sizeof(*hit));
	for (size_t i = 0; i < n; i++) {
		const Postern__V1__MessageSummary *s = pg->messages[i];
		pn_buf plain = { NULL, 0 };
		pn_err err;

		if (hit[i])
			continue;
		memset(&env[i], 0, sizeof(env[i]));
		if ((err = web_key_decrypt(rq, &s->envelope, &plain)) != PN_OK) {
			pn_warn("msg=\"cannot decrypt an envelope\" message=%lld status=%s",
			    (long long)s->id, pn_err_str(err));
			pn_buf_free(&plain);
			n_bad++;
			continue;
		}
		web_env_parse((const char *)plain.data, plain.len, &env[i]);
		pn_buf_free(&plain);
		fresh[i] = 1;
		n_new++;
	}
	if (n_new && web_env_cache_put(rq->t->redis, &rq->sess, ids, env, fresh, n) < 0)
		pn_warn("msg=\"cannot cache envelopes\" count=%zu", n_new);
	free(fresh);
	free(hit);
	free(ids);
	return n_bad;
}

/* web_folder_rows_html - the part of a folder page that comes from mailstore */
void web_folder_rows_html(web_buf *b, const Postern__V1__FolderPage *pg, const web_env *env,
    int sent, long page, long offset)
{
	const char *title = sent ? TXT->sent_title : TXT->inbox_title;

	web_buf_printf(b, "<div class=\"folder-head\"><h1>%s</h1>", title);
	if (pg->total > 0) {
		char range[160];
		web_tfmtl(range, sizeof(range), web_textn(WEB_N_PAGE_OF, (unsigned long)pg->total),
		    offset + 1, offset + (long)pg->n_messages, (long)pg->total);
		web_buf_printf(b, "<p class=\"count\">%s</p>", range);
	}
	web_buf_puts(b, "</div>\n");
	if (pg->n_messages == 0) {
		web_buf_puts(b, "<p class=\"empty\">");
		web_buf_esc(b, sent ? TXT->empty_sent : TXT->empty_inbox);
		web_buf_puts(b, "</p>\n");
	} else {
		web_buf_puts(b, "<ul class=\"msgs\">\n");
	}
	for (size_t i = 0; i < pg->n_messages; i++) {
		const Postern__V1__MessageSummary *s = pg->messages[i];
		const web_env *e = &env[i];
		char date[64], size[32];
		int unread = !s->seen && !sent;

		web_html_date(date, sizeof(date), s->received_at);
		web_html_size(size, sizeof(size), s->size);
		web_buf_printf(b, "<li><a class=\"msg%s\" href=\"/msg/%lld\">"
		    "<span class=\"dot\" aria-hidden=\"true\"></span>", unread ? " unread" : "",
		    (long long)s->id);
		if (unread)
			web_buf_printf(b, "<span class=\"sr\">%s: </span>", TXT->unread);
		web_buf_puts(b, "<span class=\"from\">");
		if (sent) {
			web_buf_printf(b, "<span class=\"sr\">%s: </span>", TXT->col_to);
			web_buf_esc(b, e->to);
		} else {
			/* the display name when there is one; its address too when the name could mislead */
			char name[256], addr[256];
			web_from_split(e->from, name, sizeof(name), addr, sizeof(addr));
			web_buf_esc(b, *name ? name : addr);
			if (*name && web_from_misleading(name, addr)) {
				web_buf_puts(b, " <span class=\"from-addr\">&lt;");
				web_buf_esc(b, addr);
				web_buf_puts(b, "&gt;</span>");
			}
		}
		web_buf_puts(b, "</span><span class=\"subject\">");
		web_buf_esc(b, *e->subject ? e->subject : TXT->no_subject);
		web_buf_printf(b, "</span><span class=\"meta\">%s \xc2\xb7 %s", date, size);
		if (s->has_attachments || e->attachments)
			web_buf_printf(b, "<span class=\"clip\" title=\"%s\">%s</span>",
			    TXT->has_attachment, TXT->attachments);
		web_buf_puts(b, "</span></a></li>\n");
	}
	if (pg->n_messages > 0)
		web_buf_puts(b, "</ul>\n");
	if (page > 0 || offset + (long)pg->n_messages < (long)pg->total) {
		web_buf_wrap(b, "<nav class=\"pager\" aria-label=\"", _("Pages"), "\">");
		if (page > 0)
			web_buf_printf(b, "<a href=\"/%s?page=%ld\">&larr; %s</a>",
			    sent ? "sent" : "inbox", page - 1, TXT->newer);
		else
			web_buf_puts(b, "<span></span>");
		if (offset + (long)pg->n_messages < (long)pg->total)
			web_buf_printf(b, "<a href=\"/%s?page=%ld\">%s &rarr;</a>",
			    sent ? "sent" : "inbox", page + 1, TXT->older);
		web_buf_puts(b, "</nav>\n");
	}
}

/* web_folder_of - GET /inbox or /sent, ?page=N (0-based, bad numbers are 0) */
int web_folder_of(const char *path, const char *query, int *sent_r, long *page_r)
{
	if (strcmp(path, "/inbox") && strcmp(path, "/sent"))
		return -1;
	*sent_r = !strcmp(path, "/sent");
	*page_r = 0;
	if (!strncmp(query, "page=", 5)) {
		char *end;
		long page = strtol(query + 5, &end, 10);
		if (!*end && page >= 0 && page <= 100000)
			*page_r = page;
	}
	return 0;
}

/*
 * folder_version - the mailbox's folder version as read before asking
 * mailstore: with the session record when the page cache knew the
 * mailbox, else now. None yet: one is set (SET NX) for the next view and
 * this one keeps nothing. "" when there is no usable version.
 */
static void folder_version(web_req *rq, char ver[PN_REDIS_VER_TEXT])
{
	char key[64], fresh[PN_REDIS_VER_TEXT], ttl[16];
	redisReply *rep = NULL;

	ver[0] = '\0';
	if (!web_cfg.page_cache)
		return;
	if (rq->sess.ver_of == rq->sess.mailbox_id) {
		snprintf(ver, PN_REDIS_VER_TEXT, "%s", rq->sess.ver);
		if (ver[0])
			return;
	}
	pn_redis_ver_key(key, sizeof(key), rq->sess.mailbox_id);
	if (rq->sess.ver_of != rq->sess.mailbox_id) {
		if (pn_redis_cmdv(rq->t->redis, &rep, "GET", key, (char *)NULL) != PN_OK)
			return;
		if (rep->type == REDIS_REPLY_STRING && rep->len < PN_REDIS_VER_TEXT)
			snprintf(ver, PN_REDIS_VER_TEXT, "%s", rep->str);
		pn_redis_free(&rep);
		if (ver[0])
			return;
	}
	pn_redis_ver_new(fresh);
	snprintf(ttl, sizeof(ttl), "%d", PN_REDIS_VER_TTL);
	pn_redis_cmdv(rq->t->redis, NULL, "SET", key, fresh, "EX", ttl, "NX", (char *)NULL);
}

/*
 * folder_list - the rows from mailstore, rendered into rows; 0, or the
 * status to answer (the session is ended if the mailbox has gone).
 * *keep is cleared when an envelope could not be decrypted (the page
 * must not be kept with a hole in it).
 */
static int folder_list(web_req *rq, int sent, long page, web_buf *rows,
    int64_t *last_activity_r, int *keep)
{
	Postern__V1__ListFolder lf = POSTERN__V1__LIST_FOLDER__INIT;
	const Postern__V1__FolderPage *pg;
	web_env *env;
	pn_err err;

	lf.mailbox_id = rq->sess.mailbox_id;
	lf.folder = sent ? POSTERN__V1__FOLDER__FOLDER_SENT : POSTERN__V1__FOLDER__FOLDER_INBOX;
	lf.offset = (int32_t)(page * web_cfg.page_size);
	lf.limit = (int32_t)web_cfg.page_size;
	pg = web_list_folder(rq, &lf, &err);
	if (err == PN_ERR_NOTFOUND) {       /* deleted meanwhile */
		web_sess_delete(rq->t->redis, &rq->sess);
		web_pcache_drop(rq->sess.c);
		rq->clear_cookie = 1;
		return web_redirect(rq, "/login");
	}
	if (!pg)
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	if ((*last_activity_r = pg->last_activity) <= 0) {
		const web_mailbox *mb = web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err);
		*last_activity_r = mb ? mb->last_activity : 0;
		*keep = 0;
	}
	env = pn_calloc(pg->n_messages ? pg->n_messages : 1, sizeof(*env));
	if (page_envelopes(rq, pg, env) > 0)
		*keep = 0;
	web_folder_rows_html(rows, pg, env, sent, page, (long)lf.offset);
	if (!sent && page == 0)             /* mail going to the recipient's own key, or the key page */
		web_ownkey_notice(rows, web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err));
	sodium_memzero(env, (pg->n_messages ? pg->n_messages : 1) * sizeof(*env));
	free(env);
	return 0;
}

/*
 * web_folder_get - GET /inbox or /sent, ?page=N (0-based). The rows come from
 * the page cache while the mailbox's folder version is the one they were
 * kept under (web_pcache.c), else from one mailstore call; the page
 * carries the mailbox's last_activity (for the expiry note), a mailstore
 * too old to fill it costs a GetMailbox as before.
 */
int web_folder_get(web_req *rq)
{
	char ver[PN_REDIS_VER_TEXT];
	int64_t last_activity = 0;
	web_page p;
	web_buf b, rows;
	long page;
	int rc, sent, keep = 1;

	web_folder_of(rq->path, rq->query, &sent, &page);
	folder_version(rq, ver);
	web_buf_init(&rows);
	if (web_pcache_get(&rq->sess, sent, page, ver, rq->now, &rows, &last_activity) < 0) {
		if ((rc = folder_list(rq, sent, page, &rows, &last_activity, &keep)) != 0) {
			web_buf_free(&rows);
			return rc;
		}
		if (keep && ver[0])
			web_pcache_put(&rq->sess, sent, page, ver, rq->now, rows.data, rows.len,
			    last_activity);
	}
	p = web_page_for(rq, sent ? TXT->sent_title : TXT->inbox_title, sent ? "sent" : "inbox");
	p.expires_days = expires_days(rq, last_activity);
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_add(&b, rows.data, rows.len);
	web_html_end(&b, &p);
	web_buf_free(&rows);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	return rc;
}

/* web_folder_preload - a folder page kept for this cookie: its version comes with the record */
int64_t web_folder_preload(const web_req *rq)
{
	int sent;
	long page;

	if (strcmp(rq->method, "GET") || web_folder_of(rq->path, rq->query, &sent, &page) < 0)
		return 0;
	return web_pcache_mailbox(rq->sess.c, sent, page);
}

/* web_folder_init - the page cache (POSTERN_WEBUI_PAGE_CACHE slots, 0 = off) */
int web_folder_init(void)
{
	return web_pcache_init(web_cfg.page_cache, web_cfg.page_cache_age);
}

/* web_folder_fini - the kept pages go */
void web_folder_fini(void)
{
	web_pcache_fini();
}
