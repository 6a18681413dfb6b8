/*
 * ctl_key.c - "posternctl key import FILE...": put the organisation's
 * users' public keys into the keyring keylookup reads.
 *
 * Each FILE ("-" = standard input, at most 16 MiB) holds one or more
 * OpenPGP public keys, armored or binary. They are imported with GPGME
 * into POSTERN_KEYRING_DIR (default var/keyring, created mode 0700); a
 * file with secret key material is refused and nothing of it is kept.
 * For each file it prints the fingerprint of the first key and whether
 * keylookup will use it (valid, unexpired, unrevoked, with an encryption
 * subkey). keylookup sees new keys at once; a cached NONE for the address
 * lasts until POSTERN_KL_TTL_NONE runs out (or use "lookup --fresh").
 *
 * The same can be done by hand: gpg --homedir DIR --import FILE.
 * Exit 0 when every file was imported, 1 otherwise, 2 on bad arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "postern/cfg.h"
#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"

#define CTL_KEY_MAX (16L * 1024 * 1024)

static char *cf_keyring;

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_KEYRING_DIR", "var/keyring", &cf_keyring, PN_CFG_REQUIRED,
	    "GnuPG home with the organisation's public keys"),
	PN_CFG_END
};

/* read_all - a whole file (or stdin for "-"), at most CTL_KEY_MAX bytes */
static char *read_all(const char *path, size_t *len_r)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "posternctl key: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = pn_realloc(buf, cap + 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > (size_t)CTL_KEY_MAX) {
			fprintf(stderr, "posternctl key: %s: larger than %ld bytes\n", path,
			    CTL_KEY_MAX);
			goto fail;
		}
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "posternctl key: %s: read error\n", path);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

/* key_usage - the synopsis */
static int key_usage(FILE *out)
{
	fprintf(out, "usage: posternctl key import FILE...   (FILE \"-\" = standard input)\n");
	return out == stdout ? 0 : 2;
}

/* import_one - import one file; 0 or -1 */
static int import_one(pn_gpg *gpg, const char *path)
{
	size_t len = 0;
	char *data = read_all(path, &len), *fpr = NULL;
	pn_err rc;

	if (!data)
		return -1;
	rc = pn_gpg_import_public(gpg, data, len, &fpr);
	free(data);
	switch (rc) {
	case PN_OK:
		printf("%s: imported %s (%s)\n", path, fpr,
		    pn_gpg_key_usable(gpg, fpr) ? "usable for encryption" :
		    "NOT usable: expired, revoked or without encryption subkey");
		pn_free(&fpr);
		return 0;
	case PN_ERR_PERM:
		fprintf(stderr, "posternctl key: %s: holds secret key material; "
		    "export the public key only (gpg --export --armor)\n", path);
		return -1;
	case PN_ERR_PARAMS:
		fprintf(stderr, "posternctl key: %s: no OpenPGP public key found\n", path);
		return -1;
	default:
		fprintf(stderr, "posternctl key: %s: import failed (%s)\n", path, pn_err_str(rc));
		return -1;
	}
}

/* ctl_key - posternctl key import FILE... */
int ctl_key(int argc, char **argv)
{
	char err[512];
	pn_gpg *gpg = NULL;
	int status = 0;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return key_usage(stdout);
	if (argc < 3 || strcmp(argv[1], "import"))
		return key_usage(stderr);
	pn_log_init("posternctl", PN_LOG_WARN);
	if (pn_cfg_load(config, err, sizeof(err)) < 0) {
		fprintf(stderr, "posternctl key: configuration: %s\n", err);
		return 2;
	}
	if (!(gpg = pn_gpg_open(cf_keyring, 0))) {
		fprintf(stderr, "posternctl key: cannot use keyring %s\n", cf_keyring);
		pn_cfg_free(config);
		return 1;
	}
	for (int i = 2; i < argc; i++)
		if (import_one(gpg, argv[i]) < 0)
			status = 1;
	pn_gpg_close(&gpg);
	pn_cfg_free(config);
	return status;
}
