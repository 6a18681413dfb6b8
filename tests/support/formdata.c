/*
 * formdata.c - a multipart/form-data body as a browser sends it
 * (support.h): the web UI's parser tests and its integration tests build
 * their uploads the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/mem.h"
#include "support.h"

void ts_form_add(ts_form *f, const void *p, size_t n)
{
	f->p = pn_realloc(f->p, f->n + n + 1);
	memcpy(f->p + f->n, p, n);
	f->n += n;
	f->p[f->n] = '\0';
}

void ts_form_adds(ts_form *f, const char *s)
{
	ts_form_add(f, s, strlen(s));
}

/* part_head - the delimiter and the Content-Disposition up to the name's closing quote */
static void part_head(ts_form *f, const char *name)
{
	ts_form_adds(f, "--");
	ts_form_adds(f, f->boundary);
	ts_form_adds(f, "\r\nContent-Disposition: form-data; name=\"");
	ts_form_adds(f, name);
	ts_form_adds(f, "\"");
}

void ts_form_field(ts_form *f, const char *name, const char *value)
{
	part_head(f, name);
	ts_form_adds(f, "\r\n\r\n");
	ts_form_adds(f, value);
	ts_form_adds(f, "\r\n");
}

void ts_form_file(ts_form *f, const char *name, const char *filename, const char *type,
    const void *data, size_t n)
{
	part_head(f, name);
	ts_form_adds(f, "; filename=\"");
	ts_form_adds(f, filename);
	ts_form_adds(f, "\"\r\n");
	if (type != NULL) {
		ts_form_adds(f, "Content-Type: ");
		ts_form_adds(f, type);
		ts_form_adds(f, "\r\n");
	}
	ts_form_adds(f, "\r\n");
	ts_form_add(f, data, n);
	ts_form_adds(f, "\r\n");
}

void ts_form_end(ts_form *f)
{
	ts_form_adds(f, "--");
	ts_form_adds(f, f->boundary);
	ts_form_adds(f, "--\r\n");
}

void ts_form_free(ts_form *f)
{
	free(f->p);
	f->p = NULL;
	f->n = 0;
}
