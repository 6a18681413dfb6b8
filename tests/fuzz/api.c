/*
 * api.c - fuzz target: the composer API's request parsing
 * (services/gateway/gw_api_codec.c): the Authorization header, the
 * query string of GET /api/v1/recipients, and the JSON body of
 * POST /api/v1/send with its base64 mail, then the event id of a parsed
 * request and the JSON renderings of answers built from its strings.
 * The first byte picks which; the rest is the text.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/mem.h"
#include "../../services/gateway/gw_api.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gw_api_json_init();
	return 0;
}

static void token(const char *text)
{
	unsigned char want[GW_API_TOKEN_DIGEST];

	gw_api_token_digest("s3cret-token", 12, want);
	(void)gw_api_token_ok(text, want);
}

static void query(const char *text)
{
	gw_api_param *params = NULL;
	size_t n = 0;
	const char *why = NULL;

	if (gw_api_query_parse(text, 8, &params, &n, &why) == 0) {
		char *out;

		if (n > 8)
			abort();
		for (size_t i = 0; i < n; i++)
			if (strlen(params[i].value) > GW_API_VALUE_MAX)
				abort();
		out = gw_api_render_error(n ? params[0].value : "none", NULL);
		gw_api_text_free(&out);
		gw_api_query_free(&params, n);
	} else if (!why) {
		abort();
	}
}

static void send_body(const uint8_t *data, size_t size)
{
	gw_api_limits lim = { 4096, 8 };
	gw_api_send s;
	char why[256], id[GW_API_EVENT_ID_LEN + 1];
	int rc;

	memset(&s, 0, sizeof(s));
	rc = gw_api_send_parse((const char *)data, size, &lim, &s, why, sizeof(why));
	if (rc == 0) {
		if (!s.sender || s.n_rcpt == 0 || s.n_rcpt > lim.max_rcpt || s.mime_len > lim.max_mime)
			abort();
		gw_api_event_id(&s, id);
		if (strlen(id) != GW_API_EVENT_ID_LEN)
			abort();
		gw_api_send_free(&s);
	} else if (rc != 400 && rc != 413) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	uint8_t *copy;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		text = fz_strndup(data + 1, size - 1);
		token(text);
		free(text);
		break;
	case 1:
		text = fz_strndup(data + 1, size - 1);
		query(text);
		free(text);
		break;
	default:
		copy = malloc(size - 1 ? size - 1 : 1);
		memcpy(copy, data + 1, size - 1);
		send_body(copy, size - 1);
		free(copy);
		break;
	}
	return 0;
}
