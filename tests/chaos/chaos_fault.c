/*
 * chaos_fault.c - the faults, and the servers they hit.
 *
 * PostgreSQL and Redis are the chaos run's own, started with
 * tools/servers in a directory of the run (Redis with its AOF,
 * appendfsync everysec), so that killing them touches no other suite.
 *
 * The runner waits until the publishers have started the events before
 * the fault's threshold (events / (faults + 2) apart, so that the last
 * fault has load after it too), hits, opens the gate up to the next
 * threshold, keeps the part down for the planned time, repairs it (a new
 * process on the same port, the same data), and measures the recovery:
 * from the hit until every publisher has had an answer again, and until
 * the SMTP sink receives mail again (while it waits for mail only,
 * publishers that reached the gate get four events more every 250 ms, so
 * that there is mail to send). The next fault comes only after that, so
 * each one is measured alone.
 *
 * The kinds: kill -9 of the broker, of each provision and mailstore
 * replica and of keylookup; PostgreSQL stopped (pg_ctl -m fast) and
 * killed (SIGKILL to the postmaster and every backend: crash recovery at
 * the start); Redis killed (what the AOF holds comes back); the SMTP sink
 * paused (SIGSTOP/SIGCONT) and killed.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"
#include "postern/clock.h"

#define SERVERS "tools/servers"
#define SLACK 12                     /* events past a threshold when it hits */
#define RECOVERY_MS 120000
#define MAIL_RECOVERY_MS 30000
#define EVENT_WAIT_MS (15 * 60 * 1000)
#define TRICKLE_MS 250                /* a few events more at most this often */

/* chaos_kind_name - how the report names a kind */
const char *chaos_kind_name(enum chaos_kind k)
{
	static const char *const names[CK_KINDS] = {
		[CK_BROKER] = "kill -9 broker",
		[CK_PROVISION0] = "kill -9 provision #0",
		[CK_PROVISION1] = "kill -9 provision #1",
		[CK_MAILSTORE0] = "kill -9 mailstore #0",
		[CK_MAILSTORE1] = "kill -9 mailstore #1",
		[CK_KEYLOOKUP] = "kill -9 keylookup",
		[CK_PG_STOP] = "postgres fast stop",
		[CK_PG_KILL] = "kill -9 postgres",
		[CK_REDIS_KILL] = "kill -9 redis (AOF)",
		[CK_SINK_PAUSE] = "pause smtp server",
		[CK_SINK_KILL] = "kill -9 smtp server",
	};
	return k < CK_KINDS ? names[k] : "?";
}

/* wall_ms - the wall clock, as the sink names its files */
static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* servers - tools/servers CMD DIR [PORT]; fails the test unless it succeeds */
static void servers(const chaos_servers *s, const char *cmd, int port)
{
	char p[16];
	const char *argv[] = { SERVERS, cmd, s->dir, port > 0 ? p : NULL, NULL };

	snprintf(p, sizeof(p), "%d", port);
	if (th_run(argv, NULL, NULL) != 0)
		fail_msg("chaos: %s %s %s failed", SERVERS, cmd, s->dir);
}

/* chaos_servers_start - our PostgreSQL and Redis, exported for the harness */
void chaos_servers_start(chaos_servers *s)
{
	if (access(SERVERS, X_OK) != 0)
		fail_msg("chaos: no %s (run from the repository's top, as tests/run does)", SERVERS);
	s->dir = th_tmpdir("chaos-srv");
	/* as root the cluster belongs to another user, who must walk in */
	assert_int_equal(chmod(s->dir, 0711), 0);
	s->pg_port = th_port();
	do
		s->redis_port = th_port();
	while (s->redis_port == s->pg_port);
	servers(s, "start-redis", s->redis_port);
	servers(s, "start-pg", s->pg_port);
	snprintf(s->pg, sizeof(s->pg), "host=127.0.0.1 port=%d user=postgres", s->pg_port);
	snprintf(s->redis, sizeof(s->redis), "127.0.0.1:%d", s->redis_port);
	setenv("POSTERN_TEST_PG", s->pg, 1);
	setenv("POSTERN_TEST_REDIS", s->redis, 1);
}

/* chaos_servers_stop - both servers, gracefully */
void chaos_servers_stop(chaos_servers *s)
{
	const char *argv[] = { SERVERS, "stop", s->dir, NULL };

	if (s->dir != NULL && th_run(argv, NULL, NULL) != 0)
		fprintf(stderr, "chaos: %s stop %s: a server did not stop cleanly\n", SERVERS, s->dir);
	free(s->dir);
	s->dir = NULL;
}

/* pid_in - the number on the first line of a pid file, -1 if none */
static pid_t pid_in(const chaos_servers *s, const char *rel)
{
	char path[512], *text;
	long pid;

	snprintf(path, sizeof(path), "%s/%s", s->dir, rel);
	if ((text = th_read_file(path, NULL)) == NULL)
		return -1;
	pid = strtol(text, NULL, 10);
	free(text);
	return pid > 0 ? (pid_t)pid : -1;
}

/*
 * gone - the process no longer exists, not even as a zombie: PostgreSQL
 * refuses to start while the pid in postmaster.pid answers kill(pid, 0),
 * and an orphan's zombie lasts until init reaps it (a second or two here)
 */
static int gone(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) != 0;
}

/* kill_tree - SIGKILL pid, then every process whose parent it was */
static void kill_tree(pid_t pid)
{
	pid_t kids[256];
	int n = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < 256) {
		char path[300], *stat, *p;
		long ppid;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((stat = th_read_file(path, NULL)) == NULL)
			continue;
		if ((p = strrchr(stat, ')')) != NULL && sscanf(p + 2, "%*c %ld", &ppid) == 1 &&
		    ppid == (long)pid)
			kids[n++] = (pid_t)strtol(de->d_name, NULL, 10);
		free(stat);
	}
	closedir(d);
	kill(pid, SIGKILL);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int t = 0; t < 1500 && !gone(pid); t++)
		pn_sleep_ms(10);
	for (int i = 0; i < n; i++)
		for (int t = 0; t < 1500 && !gone(kids[i]); t++)
			pn_sleep_ms(10);
	if (!gone(pid))
		fail_msg("chaos: pid %d still there 15 s after SIGKILL", (int)pid);
}

/* pg_fast_stop - pg_ctl -m fast stop, as the cluster's owner */
static void pg_fast_stop(const chaos_servers *s)
{
	const char *argv[] = { "bash", "-c",
		"source " SERVERS " && servers_as_owner \"$PGBIN/pg_ctl\" -D \"$1/pg/data\" "
		"-m fast -w -t 30 stop >/dev/null", "chaos", s->dir, NULL };

	if (th_run(argv, NULL, NULL) != 0)
		fail_msg("chaos: pg_ctl stop failed");
}

/* service_pid - where the stack keeps the pid of a service kind */
static pid_t *service_pid(chaos_run *r, enum chaos_kind k)
{
	switch (k) {
	case CK_BROKER: return &r->st.broker.pid;
	case CK_PROVISION0: return &r->st.pv[0];
	case CK_PROVISION1: return &r->st.pv[1];
	case CK_MAILSTORE0: return &r->st.ms;
	case CK_MAILSTORE1: return &r->st.ms2;
	case CK_KEYLOOKUP: return &r->st.kl;
	case CK_SINK_KILL: case CK_SINK_PAUSE: return &r->st.sink;
	default: return NULL;
	}
}

/* hit - inject the fault */
static void hit(chaos_run *r, enum chaos_kind k)
{
	pid_t *pid = service_pid(r, k);

	switch (k) {
	case CK_PG_STOP:
		pg_fast_stop(&r->srv);
		break;
	case CK_PG_KILL:
		kill_tree(pid_in(&r->srv, "pg/data/postmaster.pid"));
		break;
	case CK_REDIS_KILL:
		kill_tree(pid_in(&r->srv, "redis/redis.pid"));
		break;
	case CK_SINK_PAUSE:
		assert_int_equal(kill(*pid, SIGSTOP), 0);
		break;
	default:
		assert_int_equal(th_kill(*pid, SIGKILL), 0);
		*pid = -1;
	}
}

/* repair - bring the part back: the same port, the same data */
static void repair(chaos_run *r, enum chaos_kind k)
{
	th_stack *st = &r->st;

	switch (k) {
	case CK_BROKER:
		assert_int_equal(th_broker_start(&st->broker, NULL), 0);
		break;
	case CK_PROVISION0: case CK_PROVISION1:
		th_stack_provision_start(st, k == CK_PROVISION1);
		break;
	case CK_MAILSTORE0: case CK_MAILSTORE1:
		th_stack_mailstore_start(st, k == CK_MAILSTORE1);
		break;
	case CK_KEYLOOKUP:
		th_stack_keylookup_start(st);
		break;
	case CK_PG_STOP: case CK_PG_KILL:
		servers(&r->srv, "start-pg", r->srv.pg_port);
		break;
	case CK_REDIS_KILL:
		servers(&r->srv, "start-redis", r->srv.redis_port);
		break;
	case CK_SINK_PAUSE:
		assert_int_equal(kill(st->sink, SIGCONT), 0);
		break;
	case CK_SINK_KILL:
		st->sink = th_smtpsink_start(st->smtp, st->maildir);
		assert_true(st->sink > 0);
		break;
	default:
		fail_msg("chaos: unknown fault kind %d", (int)k);
	}
}

/*
 * all_answered - some publisher has had an answer since the hit, and every
 * publisher still at work has too (one waiting at the gate has nothing in
 * flight); or nothing is left to send
 */
static int all_answered(chaos_run *r)
{
	int any = 0;

	if (atomic_load(&r->done) >= r->events)
		return 1;
	for (int n = 0; n < CHAOS_PUBLISHERS; n++) {
		int answered = atomic_load(&r->first_ack[n]) != 0;
		if (!answered && atomic_load(&r->busy[n]))
			return 0;
		any |= answered;
	}
	return any;
}

/* last_ack - the latest of the publishers' first answers since the hit */
static long long last_ack(chaos_run *r)
{
	long long t = 0;

	for (int n = 0; n < CHAOS_PUBLISHERS; n++)
		if (atomic_load(&r->first_ack[n]) > t)
			t = atomic_load(&r->first_ack[n]);
	return t;
}

/* recover - wait for answers and mail again; fill the fault's figures */
static void recover(chaos_run *r, chaos_fault *f, int tries0)
{
	int mails0 = th_file_count(r->st.maildir);
	long long end = f->t0 + RECOVERY_MS, mail_end = f->t_back + MAIL_RECOVERY_MS, trickle = 0;

	f->ack_recovery_ms = f->mail_recovery_ms = -1;
	while (th_now_ms() < end && (f->ack_recovery_ms < 0 ||
	    (f->mail_recovery_ms < 0 && th_now_ms() < mail_end))) {
		if (f->ack_recovery_ms < 0 && all_answered(r)) {
			long long t = last_ack(r);
			f->ack_recovery_ms = t > f->t0 ? (long)(t - f->t0) : 0;
			f->retries = atomic_load(&r->failed_tries) - tries0;
		}
		if (f->mail_recovery_ms < 0 && th_file_count(r->st.maildir) > mails0)
			f->mail_recovery_ms = (long)(th_now_ms() - f->t0);
		/* answered, but waiting for mail: publishers idle at the gate get a trickle */
		if (f->ack_recovery_ms >= 0 && th_now_ms() >= trickle &&
		    atomic_load(&r->next) >= atomic_load(&r->gate)) {
			atomic_fetch_add(&r->gate, CHAOS_PUBLISHERS);
			trickle = th_now_ms() + TRICKLE_MS;
		}
		pn_sleep_ms(20);
	}
	if (f->ack_recovery_ms < 0)
		f->retries = atomic_load(&r->failed_tries) - tries0;
}

/* wait_started - until the publishers have started n events (bounded) */
static void wait_started(chaos_run *r, int n)
{
	long long end = th_now_ms() + EVENT_WAIT_MS;

	while (atomic_load(&r->next) < n && atomic_load(&r->done) < r->events &&
	    th_now_ms() < end)
		pn_sleep_ms(5);
}

/* chaos_faults_run - every planned fault, one after the other, under load */
void chaos_faults_run(chaos_run *r)
{
	int per = r->events / (r->faults + 2);

	atomic_store(&r->gate, per + SLACK);
	for (int k = 0; k < r->faults; k++) {
		chaos_fault *f = &r->fault[k];
		int tries0;
		wait_started(r, (k + 1) * per);
		f->at_event = atomic_load(&r->next);
		for (int n = 0; n < CHAOS_PUBLISHERS; n++)
			atomic_store(&r->first_ack[n], 0);
		tries0 = atomic_load(&r->failed_tries);
		f->t0 = th_now_ms();
		f->t0_wall = wall_ms();
		hit(r, f->kind);
		atomic_store(&r->gate, k + 1 < r->faults ? (k + 2) * per + SLACK : r->events);
		pn_sleep_ms(f->down_ms);
		repair(r, f->kind);
		f->t_back = th_now_ms();
		f->back_wall = wall_ms();
		recover(r, f, tries0);
		printf("chaos: fault %d/%d %-22s at event %5d (%lld.%03lld): down %5ld ms, answers "
		    "again after %6ld ms, mail after %6ld ms, %d failed tries\n", k + 1, r->faults,
		    chaos_kind_name(f->kind), f->at_event, f->t0_wall / 1000, f->t0_wall % 1000, (long)(f->t_back - f->t0),
		    f->ack_recovery_ms, f->mail_recovery_ms, f->retries);
		fflush(stdout);
	}
	atomic_store(&r->gate, r->events);
}

/* chaos_drain - no outbox row queued or sending, and the sink still for a second */
double chaos_drain(chaos_run *r, long timeout_ms)
{
	long long t0 = th_now_ms(), still = 0;
	int last = -1;

	while (th_now_ms() - t0 < timeout_ms) {
		long queued = th_sql_long(r->st.dsn,
		    "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')");
		int mails = th_file_count(r->st.maildir);
		if (queued == 0 && mails == last) {
			if (still == 0)
				still = th_now_ms();
			if (th_now_ms() - still >= 1000)
				break;
		} else {
			still = 0;
		}
		last = mails;
		pn_sleep_ms(250);
	}
	return (double)(th_now_ms() - t0) / 1000.0;
}
