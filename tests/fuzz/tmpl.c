/*
 * tmpl.c - fuzz target: the template syntax (lib/src/tmpl.c) and the
 * language tags that choose a template's language (lib/src/i18n.c).
 * Operators write templates (POSTERN_TEMPLATE_DIR); publishers and
 * browsers send language tags (SendEvent.locale, Accept-Language).
 *
 * Input: one flag byte (bit 0: an HTML template), then NUL-separated
 * strings: the template source, then values for the variables "name",
 * "n" and "link", then a language tag and an Accept-Language value.
 * Checks beyond "no crash": a template that parses renders; in an HTML
 * template a value holding '<' never comes out as '<' unless the source
 * itself has one; pn_i18n_pick and pn_i18n_accept always answer with a
 * supported language.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/i18n.h"
#include "postern/mem.h"
#include "postern/tmpl.h"
#include "fuzz.h"

static const char *const vars[] = { "name", "n", "link", NULL };

/* check_render - render t with the values; markup must come from the source only */
static void check_render(const pn_tmpl *t, int html, const char *src,
    char *const val[3])
{
	pn_tmpl_var v[3] = {
		{ "name", val[0] }, { "n", val[1] }, { "link", val[2] },
	};
	char *out = pn_tmpl_render(t, v, 3);

	if (!out)
		abort();
	if (html && !strchr(src, '<') && strchr(out, '<'))
		abort();
	pn_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *src, *val[3], *tag, *accept;
	pn_tmpl *t;
	int html;

	if (size < 1 || size > PN_TMPL_MAX)
		return 0;
	html = data[0] & 1;
	data++, size--;
	src = fz_split(&data, &size, 0);
	for (int i = 0; i < 3; i++)
		val[i] = fz_split(&data, &size, 0);
	tag = fz_split(&data, &size, 0);
	accept = fz_split(&data, &size, 0);

	t = pn_tmpl_parse("fuzz", src, html, vars, err, sizeof(err));
	if (t) {
		check_render(t, html, src, val);
		pn_tmpl_destroy(&t);
	} else if (!err[0]) {
		abort();                /* a refusal always says why */
	}
	if (!pn_i18n_supported(pn_i18n_pick(tag, "fuzz")) ||
	    !pn_i18n_supported(pn_i18n_accept(accept)))
		abort();
	(void)pn_i18n_tag_ok(tag);

	free(src), free(tag), free(accept);
	for (int i = 0; i < 3; i++)
		free(val[i]);
	return 0;
}
