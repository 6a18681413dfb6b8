/*
 * mime.c - fuzz target: a mail from a publisher, through lib's GMime
 * wrapper (lib/src/mime*.c), as provision handles a SendEvent's mime:
 * pn_mime_inspect (the checks and the list-view envelope), then for a
 * mail it accepts the PGP/MIME entity and wrap, with and without
 * protected headers. The first line of the mail also goes through the
 * header decoder and encoder, and the line cleaner.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "fuzz.h"

static const char cipher[] =
    "-----BEGIN PGP MESSAGE-----\n\nhQEMA1234\n=abcd\n-----END PGP MESSAGE-----\n";

/* pgp - entity and wrap of an accepted mail */
static void pgp(const uint8_t *data, size_t size, int protect)
{
	const char *why = NULL;
	size_t len = 0;
	uint8_t *ent = pn_mime_pgp_entity(data, size, protect, &len, &why);
	uint8_t *wrap;

	if (ent) {
		if (strlen((char *)ent) != len)
			abort();
		pn_wipe(ent, len);
		pn_free(&ent);
	}
	wrap = pn_mime_pgp_wrap(data, size, cipher, sizeof(cipher) - 1, protect, &len, &why);
	pn_free(&wrap);
}

/* header - the first line as a header value */
static void header(const uint8_t *data, size_t size)
{
	const uint8_t *lf = memchr(data, '\n', size);
	char *line = fz_strndup(data, lf ? (size_t)(lf - data) : size);
	char *dec = pn_mime_header_decode(line);
	char *enc = pn_mime_header_encode(dec ? dec : line);
	char *clean = pn_mime_clean_line(line, 100);

	if (strlen(clean) > 100)
		abort();
	pn_free(&dec);
	pn_free(&enc);
	pn_free(&clean);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	pn_mime_info info;
	const char *why = NULL;

	memcpy(copy, data, size);
	memset(&info, 0, sizeof(info));
	if (pn_mime_inspect(copy, size, &info, &why) == PN_OK) {
		if (!info.from_addr || !info.subject)
			abort();
		pn_mime_info_free(&info);
		pgp(copy, size, 0);
		pgp(copy, size, 1);
	} else if (!why) {
		abort();
	}
	header(copy, size);
	free(copy);
	return 0;
}
