/*
 * web_multipart.h - multipart/form-data (RFC 7578) bodies: the reply's text
 * fields (into a web_form) and its attachments. Owns: web_files,
 * web_file, web_mp_limits. Pure and bounded.
 */
#ifndef POSTERN_WEB_MULTIPART_H
#define POSTERN_WEB_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "web_form.h"

#define WEB_MP_BOUNDARY_MAX 70        /* RFC 2046 */
#define WEB_MP_MAX_PARTS 64           /* every part, files and fields */
#define WEB_MP_MAX_HEADER 2048        /* bytes of one part's header block */
#define WEB_MP_MAX_FILES 10           /* the hard cap; web_mp_limits may lower it */
#define WEB_MP_MAX_TYPE 127           /* bytes of a file's "type/subtype" */

typedef struct web_file {
	char *field;                /* the form field's name */
	char *filename;             /* web_filename_clean'd, never empty */
	char *type;                 /* lower-case "type/subtype", application/octet-stream if none or odd */
	uint8_t *data;              /* pn_malloc'd, len bytes (+ a NUL) */
	size_t len;
} web_file;

typedef struct web_files {
	web_file f[WEB_MP_MAX_FILES];
	int n;
	size_t total;               /* bytes of all files */
} web_files;

typedef struct web_mp_limits {
	size_t max_files;           /* at most WEB_MP_MAX_FILES */
	size_t max_bytes;           /* all files together */
} web_mp_limits;

/*
 * web_mp_boundary - the boundary parameter of a multipart/form-data
 * Content-Type (token or quoted-string, RFC 2046 characters, 1..70, not
 * ending in a space) into out; -1 if the type is another or the boundary
 * missing, repeated or invalid.
 */
int web_mp_boundary(const char *content_type, char out[WEB_MP_BOUNDARY_MAX + 1]);
/*
 * web_mp_parse - a multipart/form-data body (RFC 7578, CRLF line ends,
 * as browsers send it). Parts without a filename are text fields and go
 * into form under web_form's rules (first value wins, no NUL, at most
 * WEB_FORM_MAX_FIELDS fields, names up to WEB_FORM_MAX_NAME, values up
 * to WEB_FORM_MAX_VALUE); parts with one are files (an empty part with
 * an empty filename is a file input left empty, and skipped). Returns 0;
 * 400 if malformed (bad boundary, no closing delimiter, a part without
 * Content-Disposition: form-data and a name, a header block over
 * WEB_MP_MAX_HEADER, a Content-Transfer-Encoding other than 7bit, 8bit
 * or binary); 413 if over a bound (parts, fields, a value, files, file
 * bytes). On error nothing is kept (form and files are empty).
 */
int web_mp_parse(const char *content_type, const void *body, size_t len,
    const web_mp_limits *lim, web_form *form, web_files *files);
void web_files_free(web_files *files);     /* wipes */

#endif
