/*
 * brk_roles.c - who is calling: the broker's ZAP handler (ZeroMQ RFC 27),
 * which admits the public keys of the allow-list and names, for each
 * connection, the certificate and its role.
 *
 * The allow-list directory holds one public certificate per client,
 * <name>.cert, and beside it <name>.role, one word: publisher, webui,
 * reaper, operator or service (lib/include/postern/roles.h). A CURVE
 * client whose key is in a certificate there is admitted (as czmq's zauth
 * "CURVE <dir>" did before; there is no CURVE_ALLOW_ANY), and the ZAP
 * reply gives the connection the User-Id <name> and the property Role.
 * ZeroMQ attaches both to every message that comes over the connection
 * (zmq_msg_gets), so the broker reads the caller off each request and
 * no client can claim another's. Any other mechanism, an unknown key or
 * a malformed ZAP request is refused. A certificate without a readable,
 * known role is still admitted (it was before roles existed) but gets the
 * role "-": every worker refuses it, and each load says so per file.
 *
 * The directory is read again when it changes (names, sizes, times, as
 * zauth's certificate store did), looked at once a second, and at once
 * whenever an unknown key knocks. A role is fixed
 * for a connection at its handshake: a changed role applies when the
 * client connects again.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <czmq.h>

#include "brk.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/roles.h"

#define ROLES_FILES_MAX 4096     /* certificates read from the directory */
#define ROLES_CHECK_MS 1000      /* the directory is looked at this often */
#define ROLES_FILE_MAX 64        /* bytes read of a role file */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct role_entry {
	char name[PN_MDP_CALLER_MAX + 1];
	char role[PN_ROLE_NAME_MAX];   /* "" for none */
} role_entry;

typedef struct roles {
	char *dir;
	zhash_t *keys;               /* Z85 public key -> role_entry */
	time_t modified;             /* the directory's signature at the last load */
	size_t count;
	off_t size;
	int64_t checked;             /* monotonic ms of the last look */
	int64_t warn_window;         /* refusals logged: at most 10 per 10 s */
	unsigned long warned;
} roles;

/* read_role - the role named in path, "" if none; warns about a bad one */
static void read_role(const char *path, const char *name, char role[PN_ROLE_NAME_MAX])
{
	char buf[ROLES_FILE_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	role[0] = '\0';
	if (f) {
		n = fread(buf, 1, ROLES_FILE_MAX, f);
		fclose(f);
	}
	buf[n] = '\0';
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (!f)
		pn_warn("msg=\"certificate has no role file: every worker refuses it\" cert=%s "
		    "file=\"%s\"", name, path);
	else if (!pn_role_parse(buf))
		pn_warn("msg=\"certificate has an unknown role: every worker refuses it\" "
		    "cert=%s file=\"%s\"", name, path);
	else
		snprintf(role, PN_ROLE_NAME_MAX, "%.15s", buf);     /* a role name: short */
}

/* load_cert - add dir/file (NAME.cert, or NAME) to keys if it is a certificate */
static void load_cert(roles *r, zhash_t *keys, const char *file)
{
	char path[4096], rpath[4096];
	size_t n = strlen(file);
	zcert_t *cert;
	role_entry *e;

	if (n > 5 && !strcmp(file + n - 5, ".cert"))
		n -= 5;
	snprintf(path, sizeof(path), "%s/%s", r->dir, file);
	snprintf(rpath, sizeof(rpath), "%s/%.*s.role", r->dir, (int)n, file);
	if (!(cert = zcert_load(path)))
		return;
	e = pn_calloc(1, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%.*s", (int)(n < PN_MDP_CALLER_MAX ?
	    n : PN_MDP_CALLER_MAX), file);
	read_role(rpath, e->name, e->role);
	if (zhash_insert(keys, zcert_public_txt(cert), e) == 0)
		zhash_freefn(keys, zcert_public_txt(cert), free);
	else
		pn_free(&e);
	zcert_destroy(&cert);
}

/* load - read every certificate of the directory and its role */
static void load(roles *r)
{
	zhash_t *keys = zhash_new();
	DIR *d = opendir(r->dir);
	struct dirent *de;
	size_t files = 0, with_role = 0;

	while (d && (de = readdir(d)) && files < ROLES_FILES_MAX) {
		size_t n = strlen(de->d_name);
		struct stat st;
		char path[4096];

		if (de->d_name[0] == '.' || (n > 5 && !strcmp(de->d_name + n - 5, ".role")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		load_cert(r, keys, de->d_name);
		files++;
	}
	if (d)
		closedir(d);
	for (role_entry *e = zhash_first(keys); e; e = zhash_next(keys))
		with_role += e->role[0] != '\0';
	zhash_destroy(&r->keys);
	r->keys = keys;
	pn_info("msg=\"allow-list read\" dir=\"%s\" certificates=%zu with_role=%zu",
	    r->dir, zhash_size(keys), with_role);
}

/* changed - has the directory changed since the last look? */
static int changed(roles *r)
{
	zdir_t *d = zdir_new(r->dir, NULL);
	int c;

	if (!d)
		return 0;
	c = zdir_modified(d) != r->modified || zdir_count(d) != r->count ||
	    zdir_cursize(d) != r->size;
	r->modified = zdir_modified(d);
	r->count = zdir_count(d);
	r->size = zdir_cursize(d);
	zdir_destroy(&d);
	return c;
}

/* refresh - read again if the directory changed; now: look even if it was just looked at */
static void refresh(roles *r, int now)
{
	int64_t t = zclock_mono();

	if (!now && t - r->checked < ROLES_CHECK_MS)
		return;
	r->checked = t;
	if (changed(r))
		load(r);
}

/*
 * find - the entry of a Z85 key, or NULL. An unknown key has the directory
 * looked at again at once (a handful of stat calls; each knock costs its
 * sender a CURVE handshake), so a certificate just added is admitted.
 */
static role_entry *find(roles *r, const char *key)
{
	role_entry *e = zhash_lookup(r->keys, key);

	if (!e) {
		refresh(r, 1);
		e = zhash_lookup(r->keys, key);
	}
	return e;
}

/* zap_property - append one ZMTP property: name, 4-byte length, value */
static size_t zap_property(uint8_t *buf, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value), at = 0;

	buf[at++] = (uint8_t)n;
	memcpy(buf + at, name, n);
	at += n;
	buf[at++] = (uint8_t)(v >> 24);
	buf[at++] = (uint8_t)(v >> 16);
	buf[at++] = (uint8_t)(v >> 8);
	buf[at++] = (uint8_t)v;
	memcpy(buf + at, value, v);
	return at + v;
}

/* refused - count a refusal and log it, at most ten per ten seconds */
static void refused(roles *r, const char *why, const char *mechanism, const char *address)
{
	int64_t now = zclock_mono();

	pn_metrics_add("postern_broker_refused_total",
	    "Connections refused by the allow-list", 1);
	if (now - r->warn_window >= 10000) {
		r->warn_window = now;
		r->warned = 0;
	}
	if (r->warned++ < 10)
		pn_info("msg=\"connection refused\" reason=\"%s\" mechanism=\"%.16s\" address=\"%.64s\"",
		    why, mechanism ? mechanism : "-", address ? address : "-");
}

/*
 * zap_answer - one ZAP request, [version][request id][domain][address]
 * [identity][mechanism][credentials...], answered [version][request id]
 * [status][text][user id][metadata]
 */
static void zap_answer(roles *r, zsock_t *handler)
{
	zmsg_t *req = zmsg_recv(handler), *rep;
	char *version, *id, *domain, *address, *mech;
	zframe_t *identity, *key;
	const char *status = "400", *text = "No access", *user = "";
	uint8_t meta[16 + PN_ROLE_NAME_MAX];
	size_t meta_len = 0;
	char z85[41];
	role_entry *e;

	if (!req)
		return;
	version = zmsg_popstr(req);
	id = zmsg_popstr(req);
	domain = zmsg_popstr(req);
	address = zmsg_popstr(req);
	identity = zmsg_pop(req);
	mech = zmsg_popstr(req);
	key = zmsg_pop(req);
	if (!version || strcmp(version, "1.0") || !id || !mech) {
		status = "500";
		text = "Malformed request";
		refused(r, "malformed ZAP request", mech, address);
	} else if (strcmp(mech, "CURVE") || !key || zframe_size(key) != 32) {
		refused(r, "not CURVE", mech, address);
	} else if (!zmq_z85_encode(z85, zframe_data(key), 32) || !(e = find(r, z85))) {
		refused(r, "key not on the allow-list", mech, address);
	} else {
		status = "200";
		text = "OK";
		user = e->name;
		meta_len = zap_property(meta, "Role", e->role[0] ? e->role : "-");
	}
	rep = zmsg_new();
	zmsg_addstr(rep, "1.0");
	zmsg_addstr(rep, id ? id : "");
	zmsg_addstr(rep, status);
	zmsg_addstr(rep, text);
	zmsg_addstr(rep, user);
	zmsg_addmem(rep, meta, meta_len);
	zmsg_send(&rep, handler);
	zstr_free(&version);
	zstr_free(&id);
	zstr_free(&domain);
	zstr_free(&address);
	zstr_free(&mech);
	zframe_destroy(&identity);
	zframe_destroy(&key);
	zmsg_destroy(&req);
}

/* what the actor is started with, and whether it could bind */
typedef struct zap_start {
	const char *dir;
	int ok;
} zap_start;

/* zap_actor - the handler's thread: answer ZAP requests until $TERM */
static void zap_actor(zsock_t *pipe, void *arg)
{
	zap_start *start = arg;
	roles r = { .dir = (char *)start->dir };
	zsock_t *handler = zsock_new_rep("@" ZAP_ENDPOINT);
	zpoller_t *poller = handler ? zpoller_new(pipe, handler, NULL) : NULL;

	changed(&r);
	load(&r);
	r.checked = zclock_mono();
	start->ok = poller != NULL;
	zsock_signal(pipe, 0);      /* zactor_new returns after this */
	while (poller) {
		zsock_t *which = zpoller_wait(poller, ROLES_CHECK_MS);

		if (which == pipe) {
			char *cmd = zstr_recv(pipe);
			int term = !cmd || !strcmp(cmd, "$TERM");

			zstr_free(&cmd);
			if (term)
				break;
		} else if (which == handler) {
			zap_answer(&r, handler);
		} else if (zpoller_terminated(poller)) {
			break;
		}
		refresh(&r, 0);
	}
	if (!poller) {              /* wait to be told to go */
		char *cmd = zstr_recv(pipe);

		zstr_free(&cmd);
	}
	zpoller_destroy(&poller);
	zsock_destroy(&handler);
	zhash_destroy(&r.keys);
}

/* brk_zap_new - start the ZAP handler for allow_dir; NULL with a log line */
zactor_t *brk_zap_new(const char *allow_dir)
{
	zap_start start = { allow_dir, 0 };
	zactor_t *zap = zactor_new(zap_actor, &start);

	if (zap && !start.ok) {
		pn_error("msg=\"cannot bind the ZAP handler\" endpoint=%s", ZAP_ENDPOINT);
		zactor_destroy(&zap);
	}
	return zap;
}
