/*
 * multipart.c - fuzz target: multipart/form-data, the reply route's body
 * with attachments (services/webui/web_multipart.c). Input: the
 * Content-Type header value, a 0x00 byte, then the body. Checks: what
 * parsed stays within the limits given, and an error leaves nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "../../services/webui/web_multipart.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t ct_len = nul ? (size_t)(nul - data) : size;
	char *ctype = fz_strndup(data, ct_len);
	const uint8_t *body = nul ? nul + 1 : data + size;
	size_t body_len = nul ? size - ct_len - 1 : 0;
	uint8_t *copy = malloc(body_len ? body_len : 1);
	web_mp_limits lim = { 3, 4096 };
	char boundary[WEB_MP_BOUNDARY_MAX + 1];
	web_form form;
	web_files files;
	int rc;

	memcpy(copy, body, body_len);
	if (web_mp_boundary(ctype, boundary) == 0 && strlen(boundary) > WEB_MP_BOUNDARY_MAX)
		abort();
	memset(&form, 0, sizeof(form));
	memset(&files, 0, sizeof(files));
	rc = web_mp_parse(ctype, copy, body_len, &lim, &form, &files);
	if (rc == 0) {
		size_t total = 0;

		if (files.n < 0 || (size_t)files.n > lim.max_files || files.total > lim.max_bytes)
			abort();
		for (int i = 0; i < files.n; i++) {
			if (!files.f[i].filename || !files.f[i].filename[0] ||
			    strchr(files.f[i].filename, '/') || !files.f[i].type)
				abort();
			total += files.f[i].len;
		}
		if (total != files.total)
			abort();
	} else if (rc != 400 && rc != 413) {
		abort();
	} else if (form.n != 0 || files.n != 0) {
		abort();
	}
	web_form_free(&form);
	web_files_free(&files);
	free(copy);
	free(ctype);
	return 0;
}
