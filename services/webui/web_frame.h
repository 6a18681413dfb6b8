/*
 * web_frame.h - the frame of every page (head, header bar, folder tabs,
 * footer with the language links and the organisation's links), rendered
 * from the template kinds page-head and page-foot (share/postern/templates,
 * or the operator's POSTERN_TEMPLATE_DIR). Owns: web_frame_kinds, web_page.
 */
#ifndef POSTERN_WEB_FRAME_H
#define POSTERN_WEB_FRAME_H

#include <stddef.h>

#include "postern/tmpl.h"
#include "web_util.h"

/* what the frame of one page shows */
typedef struct web_page {
	const char *title;          /* plain text */
	const char *address;        /* whose mailbox (NULL before login) */
	const char *csrf;           /* for the logout button */
	const char *nav;            /* "inbox", "sent" or NULL */
	long expires_days;          /* < 0: not shown */
} web_page;

/* the frame's template kinds, loaded and checked at start (web_lang_init) */
extern const pn_tmpl_kind web_frame_kinds[];
extern const size_t web_frame_n_kinds;

/* web_frame_begin - doctype, head, header bar, navigation, <main> */
void web_frame_begin(web_buf *b, const web_page *p);
/* web_frame_end - </main>, the footer, the end */
void web_frame_end(web_buf *b, const web_page *p);

#endif
