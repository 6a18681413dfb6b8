/*
 * ctl_certs.c - "posternctl certs DIR [NAME...]": the bus's CURVE keys.
 *
 * Makes DIR (0700) with broker.cert(+_secret) and, for every client
 * name, NAME.cert(+_secret) plus DIR/allow/NAME.cert holding only the
 * public key: the broker's allow-list. Existing files are never
 * overwritten, so running it again only fills gaps (a client whose
 * certificate exists but is missing from allow/ gets its public copy).
 * Secret files are written under umask 077 and end up 0600.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "ctl.h"

static const char *const default_names[] = {
	"keylookup", "provision", "mailstore", "webui", "reaper", "gateway", "posternctl", NULL
};

/* name_ok - a certificate name: [a-z0-9._-]{1,64}, not "." or ".." */
static int name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* mkdir_private - create dir 0700 unless it exists as a directory */
static int mkdir_private(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0) {
		printf("created %s/\n", dir);
		return 0;
	}
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	fprintf(stderr, "posternctl certs: cannot create %s: %s\n", dir, strerror(errno));
	return -1;
}

/* exists - path exists (any type) */
static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* make_cert - DIR/NAME.cert(+_secret) unless present; allow/ copy if client */
static int make_cert(const char *dir, const char *name, int client)
{
	char pub[4096], sec[4200], allow[4200];
	zcert_t *cert = NULL;
	int rc = -1;

	snprintf(pub, sizeof(pub), "%s/%s.cert", dir, name);
	snprintf(sec, sizeof(sec), "%s_secret", pub);
	snprintf(allow, sizeof(allow), "%s/allow/%s.cert", dir, name);

	if (exists(pub) != exists(sec)) {
		fprintf(stderr, "posternctl certs: %s exists without its pair %s: "
		    "remove it to regenerate\n", exists(pub) ? pub : sec,
		    exists(pub) ? sec : pub);
		return -1;
	}
	if (!exists(pub)) {
		cert = zcert_new();
		if (!cert) {
			fprintf(stderr, "posternctl certs: cannot generate a key pair\n");
			return -1;
		}
		zcert_set_meta(cert, "name", "%s", name);
		zcert_set_meta(cert, "created-by", "posternctl certs");
		if (zcert_save(cert, pub) != 0) {
			fprintf(stderr, "posternctl certs: cannot write %s: %s\n", pub, strerror(errno));
			goto done;
		}
		if (chmod(sec, 0600) != 0 || chmod(pub, 0644) != 0) {
			fprintf(stderr, "posternctl certs: cannot set modes on %s: %s\n",
			    pub, strerror(errno));
			goto done;
		}
		printf("created %s\n", pub);
		printf("created %s\n", sec);
	}
	if (client && !exists(allow)) {
		if (!cert && !(cert = zcert_load(pub))) {
			fprintf(stderr, "posternctl certs: cannot read %s\n", pub);
			goto done;
		}
		if (zcert_save_public(cert, allow) != 0 || chmod(allow, 0644) != 0) {
			fprintf(stderr, "posternctl certs: cannot write %s: %s\n", allow, strerror(errno));
			goto done;
		}
		printf("created %s\n", allow);
	}
	rc = 0;
done:
	zcert_destroy(&cert);
	return rc;
}

/* ctl_certs - posternctl certs DIR [NAME...] */
int ctl_certs(int argc, char **argv)
{
	char allow[4096];
	const char *dir;
	mode_t old;
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
		    "usage: posternctl certs DIR [NAME...]\n"
		    "  default names: keylookup provision mailstore webui reaper gateway posternctl\n");
		return argc < 2 ? 2 : 0;
	}
	dir = argv[1];
	if (strlen(dir) > 3000) {
		fprintf(stderr, "posternctl certs: directory name too long\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!name_ok(argv[i]) || !strcmp(argv[i], "broker")) {
			fprintf(stderr, "posternctl certs: bad client name \"%s\" "
			    "(want [a-z0-9._-]{1,64}, not \"broker\")\n", argv[i]);
			return 2;
		}
	}
	old = umask(077);
	snprintf(allow, sizeof(allow), "%s/allow", dir);
	if (mkdir_private(dir) < 0 || mkdir_private(allow) < 0) {
		umask(old);
		return 1;
	}
	if (make_cert(dir, "broker", 0) < 0)
		rc = 1;
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			if (make_cert(dir, argv[i], 1) < 0)
				rc = 1;
	} else {
		for (int i = 0; default_names[i]; i++)
			if (make_cert(dir, default_names[i], 1) < 0)
				rc = 1;
	}
	umask(old);
	return rc;
}
