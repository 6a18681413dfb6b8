/*
 * ctl_certs.c - "posternctl certs DIR [NAME[:ROLE]...]": the bus's CURVE
 * keys and the roles of the clients.
 *
 * Makes DIR (0700) with broker.cert(+_secret) and, for every client
 * name, NAME.cert(+_secret) plus DIR/allow/NAME.cert holding only the
 * public key: the broker's allow-list, and DIR/allow/NAME.role, the
 * client's role (lib/include/postern/roles.h). The programs of Postern
 * have their role by name (default_names below); any other client needs
 * one given, "backend:publisher". Existing files are never overwritten,
 * so running it again only fills gaps (a client whose certificate exists
 * but is missing from allow/ gets its public copy, an allow-list made
 * before roles gets its role files). Secret files are written under umask
 * 077 and end up 0600.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "ctl.h"
#include "postern/roles.h"

/* every program of Postern that is a bus client, and its role */
static const struct { const char *name, *role; } default_names[] = {
	{ "keylookup", "service" }, { "provision", "service" }, { "mailstore", "service" },
	{ "webui", "webui" }, { "reaper", "reaper" }, { "gateway", "publisher" },
	{ "posternctl", "operator" }, { NULL, NULL }
};

/* default_role - the role of one of Postern's programs, or NULL */
static const char *default_role(const char *name)
{
	for (int i = 0; default_names[i].name; i++)
		if (!strcmp(default_names[i].name, name))
			return default_names[i].role;
	return NULL;
}

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

/* make_role - DIR/allow/NAME.role unless present */
static int make_role(const char *dir, const char *name, const char *role)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/allow/%s.role", dir, name);
	if (exists(path))
		return 0;
	if (!(f = fopen(path, "w")) || fprintf(f, "%s\n", role) < 0 || fclose(f) != 0 ||
	    chmod(path, 0644) != 0) {
		fprintf(stderr, "posternctl certs: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("created %s\n", path);
	return 0;
}

/* make_cert - DIR/NAME.cert(+_secret) unless present; allow/ copy and role if a client */
static int make_cert(const char *dir, const char *name, const char *role)
{
	char pub[4096], sec[4200], allow[4200];
	int client = role != NULL;
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
	if (client && make_role(dir, name, role) < 0)
		goto done;
	rc = 0;
done:
	zcert_destroy(&cert);
	return rc;
}

/*
 * split_role - "NAME:ROLE" into name (written into buf) and role; a bare
 * NAME takes its program's role. -1 with a message if neither works.
 */
static int split_role(const char *arg, char buf[80], const char **role_r)
{
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

	if (n >= 80)
		n = 79;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	*role_r = colon ? colon + 1 : default_role(buf);
	if (!name_ok(buf) || !strcmp(buf, "broker")) {
		fprintf(stderr, "posternctl certs: bad client name \"%s\" "
		    "(want [a-z0-9._-]{1,64}, not \"broker\")\n", buf);
		return -1;
	}
	if (!*role_r || !pn_role_parse(*role_r)) {
		fprintf(stderr, "posternctl certs: \"%s\" needs a role: NAME:ROLE with ROLE one of "
		    "publisher, webui, reaper, operator, service\n", arg);
		return -1;
	}
	return 0;
}

/* ctl_certs - posternctl certs DIR [NAME[:ROLE]...] */
int ctl_certs(int argc, char **argv)
{
	char allow[4096], name[80];
	const char *dir, *role;
	mode_t old;
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
		    "usage: posternctl certs DIR [NAME[:ROLE]...]\n"
		    "  default names (and roles): keylookup provision mailstore (service), webui (webui),\n"
		    "  reaper (reaper), gateway (publisher), posternctl (operator); any other NAME\n"
		    "  needs a ROLE: publisher, webui, reaper, operator or service\n");
		return argc < 2 ? 2 : 0;
	}
	dir = argv[1];
	if (strlen(dir) > 3000) {
		fprintf(stderr, "posternctl certs: directory name too long\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (split_role(argv[i], name, &role) < 0)
			return 2;
	old = umask(077);
	snprintf(allow, sizeof(allow), "%s/allow", dir);
	if (mkdir_private(dir) < 0 || mkdir_private(allow) < 0) {
		umask(old);
		return 1;
	}
	if (make_cert(dir, "broker", NULL) < 0)
		rc = 1;
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			if (split_role(argv[i], name, &role) < 0 || make_cert(dir, name, role) < 0)
				rc = 1;
	} else {
		for (int i = 0; default_names[i].name; i++)
			if (make_cert(dir, default_names[i].name, default_names[i].role) < 0)
				rc = 1;
	}
	umask(old);
	return rc;
}

/* ctl_roles - posternctl roles: the table operation x role (lib/src/roles.c) */
int ctl_roles(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ? stdout : stderr,
		    "usage: posternctl roles\n"
		    "  prints, as a Markdown table, which role may call each operation\n");
		return !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ? 0 : 2;
	}
	pn_roles_markdown(stdout);
	return 0;
}
