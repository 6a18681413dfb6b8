/*
 * form.c - fuzz target: application/x-www-form-urlencoded bodies and the
 * Cookie header, parsed by the web UI itself (services/webui/web_form.c)
 * on every POST and every request. Input: a body; after the first 0x00
 * byte (if any) a Cookie header. Checks: what parsed stays within the
 * documented bounds and a value holds no NUL.
 */
#include <stdlib.h>
#include <string.h>

#include "../../services/webui/web_form.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t body_len = nul ? (size_t)(nul - data) : size;
	char *body = fz_strndup(data, body_len);
	web_form form;
	char value[128];

	memset(&form, 0, sizeof(form));
	if (web_form_parse(&form, body, body_len) == 0) {
		if (form.n < 0 || form.n > WEB_FORM_MAX_FIELDS)
			abort();
		for (int i = 0; i < form.n; i++) {
			if (strlen(form.f[i].name) > WEB_FORM_MAX_NAME ||
			    form.f[i].len > WEB_FORM_MAX_VALUE ||
			    strlen(form.f[i].value) != form.f[i].len)
				abort();
			if (web_form_get(&form, form.f[i].name) == NULL)
				abort();
		}
		(void)web_form_get(&form, "csrf");
	}
	web_form_free(&form);
	if (nul) {
		char *cookie = fz_strndup(nul + 1, size - body_len - 1);

		if (web_cookie_get(cookie, "__Host-postern", value, sizeof(value)) == 0 &&
		    strlen(value) >= sizeof(value))
			abort();
		free(cookie);
	}
	free(body);
	return 0;
}
