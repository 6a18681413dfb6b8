/*
 * prov.h - provision's internal interfaces, shared by its prov_*.c files.
 *
 * prov_crypto.c  secrets and what is derived from them (pure, unit-tested)
 * prov_render.c  the mails provision writes and the message envelope (pure)
 * prov_send.c    SendEvent: checks, one key lookup, the recipients in order, the answer
 * prov_mailbox.c a recipient without a key: its temporary mailbox (records, keys, Accept)
 * prov_reissue.c a mailbox never activated, or locked: re-issued (by a send or by hand)
 * prov_ctl.c     posternctl reissue: the re-issue a person asks for
 * prov_proof.c   a person proves a key: the challenge of prov_ctl.c and prov_revoke.c
 * prov_revoke.c  posternctl revoke: an event's messages withdrawn by its sender
 * prov_pgp.c     mails to someone's own key: key-found deliveries, the sender notice
 * prov_pin.c     PinQuery, PinVerify and the lock-out policy
 * prov_pool.c    guest keys made ahead of time by a background thread
 * prov_keyring.c the GnuPG home of encryption: a cache, renewed when full or old
 * prov_receipt.c the sender's receipts: claimed from mailstore, encrypted, queued
 * prov_init.c    init, fini and the background thread for the skeleton
 *
 * Configuration lives in prov_cfg (filled by the skeleton from main.c's
 * table before init runs, read-only afterwards); the connections of each
 * worker thread in its prov_state.
 */
#ifndef POSTERN_PROV_H
#define POSTERN_PROV_H

#include <stddef.h>
#include <stdint.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/brand.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/redis.h"
#include "postern/service.h"

/* ---- configuration ---- */
struct prov_config {
	char *redis;
	char *redis_password;
	long redis_timeout_ms;
	char *gnupghome;
	char *public_url;
	char *invite_from;
	char *invite_return_path;   /* "sender", "from" or an address */
	char *server_key;           /* POSTERN_PROVISION_KEY: hex or base64 of 32 bytes */
	long pin_length;
	long inactivity_days;
	long max_mail_bytes;
	long part_bytes;                    /* AppendPart: larger bodies go in parts */
	long max_recipients;
	long record_ttl;            /* seconds an event record is kept */
	long pin_lockout_after;     /* failures before the first lock-out */
	long pin_lockout_seconds;   /* first lock-out, doubling */
	long pin_max_failures;      /* then locked until re-issued */
	long pin_client_max;        /* failures per client address per window */
	long pin_client_window;     /* seconds */
	long key_pool;              /* pooled keys per kind; 0 = none */
	long keyring_max;           /* keys imported before the keyring is renewed */
	long keyring_max_age;       /* seconds before the keyring is renewed */
	long reissue_renew_max;     /* re-issues that still renew last_activity */
	char *operator_key;         /* file of the operator's OpenPGP public key ("" = none) */
	long expires_max_days;      /* how far ahead SendEvent.expires_at may be */
	char *receipts_without_key; /* "none" or "plain": receipts for a sender without a key */
	long recent_keys;           /* slots of prov_recent; 0 = encrypt only after the lookup */
	pn_brand brand;             /* names, logo, languages, templates */
};
extern struct prov_config prov_cfg;

typedef struct prov_pool prov_pool;
typedef struct prov_keyring prov_keyring;
typedef struct prov_recent prov_recent;

#define PROV_UPLOAD_ID_BYTES 16     /* AppendPart.upload */
#define PROV_LANES 2                /* parts of a large body in flight at once */

/*
 * ---- state: one per worker thread (POSTERN_WORKERS). The first worker's
 * owns what all share: the server key, the settings derived at start, the
 * key pool, the recent keys. A further worker's has its own connections and
 * keyring, and uses the rest (prov_worker_init).
 */
typedef struct prov_state {
	prov_pool *pool;            /* pre-made guest keys, or NULL */
	uint8_t key[32];            /* the server key for event records */
	pn_redis *redis;
	prov_keyring *keyring;      /* POSTERN_GNUPGHOME's current keyring */
	pn_client *bus;             /* calls to keylookup and mailstore */
	pn_client *lanes[PROV_LANES];   /* parts of a large body in flight at once */
	char *invite_addr;          /* addr-spec of POSTERN_INVITE_FROM ("" = <>) */
	char *return_path;          /* SMTP sender of mails to recipients; NULL = the event's sender */
	pn_buf operator_key;        /* POSTERN_PROVISION_OPERATOR_KEY's armored key, or empty */
	prov_recent *recent;        /* recent guest mailboxes' keys, or NULL (prov_recent.c) */
	struct prov_state *first;   /* a further worker's: the first worker's state; else NULL */
} prov_state;

/* ---- prov_init.c ---- */
/* prov_init - key, Redis, GnuPG home, bus client; -1 = cannot run */
int prov_init(pn_ctx *ctx);
/* prov_fini - close what prov_init opened, wipe the key */
void prov_fini(pn_ctx *ctx);
/*
 * prov_worker_init - a further worker's state: its own Redis connection,
 * bus client and keyring (beside the first's); the key pool and the
 * recent keys are the first worker's, shared. -1 = cannot run.
 */
int prov_worker_init(pn_ctx *ctx);
/* prov_worker_fini - close what prov_worker_init opened */
void prov_worker_fini(pn_ctx *ctx);
/*
 * prov_background - the skeleton's background thread: renews an idle
 * keyring in time, turns pending receipts into mails
 */
void prov_background(pn_ctx *ctx);

/* ---- prov_recent.c ---- */
/* an entry is not used after this many seconds */
#define PROV_RECENT_MAX_AGE 600
/* larger public keys are not kept */
#define PROV_RECENT_KEY_MAX 65536
/* prov_recent_clock - monotonic seconds, for the age bound; a test may put another here */
extern long (*prov_recent_clock)(void);
/* prov_recent_new - a table of slots entries; NULL when slots is 0 (off) */
prov_recent *prov_recent_new(long slots);
/* prov_recent_free - free every copy (NULL-tolerant) */
void prov_recent_free(prov_recent **r);
/* prov_recent_put - address's mailbox has key (copied), as a lookup said just now */
void prov_recent_put(prov_recent *r, const char *address, const ProtobufCBinaryData *key);
/* prov_recent_forget - address has no guest mailbox key any more (or not that one) */
void prov_recent_forget(prov_recent *r, const char *address);
/*
 * prov_recent_get - a copy in pool of the key last put for address and
 * not yet too old; NULL if none. The table may be shared by threads.
 */
const ProtobufCBinaryData *prov_recent_get(prov_recent *r, const char *address,
    pn_pool *pool);
/* prov_recent_same - two non-empty keys, byte for byte the same */
int prov_recent_same(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b);

/* ---- prov_keyring.c ---- */
/*
 * prov_keyring_clock - monotonic seconds, for the age bound; a test may
 * put another clock here
 */
extern long (*prov_keyring_clock)(void);
/*
 * prov_keyring_open - remove what earlier processes left under base
 * (POSTERN_GNUPGHOME) and open the first generation, base/kr.<n>; it is
 * renewed once imports added max_keys keys or it is max_age seconds old.
 * NULL = cannot run.
 */
prov_keyring *prov_keyring_open(const char *base, long max_keys, long max_age);
/*
 * prov_keyring_open_beside - another keyring in first's directory (a
 * further worker's), with the same bounds and its generations numbered in
 * first's sequence; first's tick renews it too. first must outlive it.
 * NULL = cannot run.
 */
prov_keyring *prov_keyring_open_beside(prov_keyring *first);
/* prov_keyring_close - remove the current generation and free (NULL-tolerant) */
void prov_keyring_close(prov_keyring **kr);
/*
 * prov_keyring_lock - exclusive use of the current generation (renewed
 * first if due), its number in *gen_r (optional). NULL if no home is
 * usable: logged, and the lock is not held.
 */
pn_gpg *prov_keyring_lock(prov_keyring *kr, unsigned long *gen_r);
/* prov_keyring_unlock - done with what prov_keyring_lock gave */
void prov_keyring_unlock(prov_keyring *kr);
/*
 * prov_keyring_tick - renew the keyring, and every keyring opened beside
 * it, if due, used or not (NULL-tolerant)
 */
void prov_keyring_tick(prov_keyring *kr);
/* prov_keyring_home - the directory of generation gen */
void prov_keyring_home(const prov_keyring *kr, unsigned long gen, char *out, size_t len);

/* ---- prov_receipt.c ---- */
#define PROV_RECEIPTS_BATCH 20      /* receipts claimed at once */
/*
 * prov_receipts_pass - the background thread's turn: claim pending
 * receipts from mailstore, encrypt each to its sender's key (or the
 * policy without one), queue and complete it; the number claimed, -1 when
 * mailstore could not be asked. bus: the thread's own client.
 */
int prov_receipts_pass(prov_state *st, pn_client *bus);

/* ---- prov_crypto.c ---- */
#define PROV_LINK_BYTES 32
#define PROV_LINK_TEXT 44           /* base64url, no padding, 43 + NUL */
#define PROV_HASH_BYTES 32
#define PROV_PASS_TEXT 44           /* base64url of 32 bytes + NUL */
#define PROV_PIN_MAX 12
#define PROV_PIN_MIN 4

/* prov_key_parse - 32 bytes from 64 hex digits or base64 (either alphabet) */
int prov_key_parse(const char *text, uint8_t key[32]);
/* prov_link_new - 32 random bytes */
void prov_link_new(uint8_t link[PROV_LINK_BYTES]);
/* prov_pin_new - len uniformly random decimal digits, NUL-terminated */
void prov_pin_new(char *pin, size_t len);
/* prov_record_id - hex BLAKE2b-256(event_id || 0 || address): 64 chars + NUL */
void prov_record_id(const char *event_id, const char *address, char out[65]);

/* What an event record holds: the secrets chosen for one (event, recipient). */
typedef struct prov_secret {
	uint8_t link[PROV_LINK_BYTES];
	char pin[PROV_PIN_MAX + 1];   /* "" = no PIN */
} prov_secret;

#define PROV_RECORD_MAX 128
/*
 * prov_record_seal - secretbox(key, version || record id || link || pin):
 * writes nonce || box into out (PROV_RECORD_MAX), returns its length.
 * The record id inside binds the record to its Redis key.
 */
size_t prov_record_seal(const uint8_t key[32], const char *record_id,
    const prov_secret *sec, uint8_t *out);
/* prov_record_open - the inverse; -1 if forged, foreign or damaged */
int prov_record_open(const uint8_t key[32], const char *record_id,
    const uint8_t *in, size_t len, prov_secret *sec_r);

/* The sealed passphrase of a mailbox not yet activated (mailboxes.reissue_box). */
#define PROV_BOX_MAX (PROV_PASS_TEXT - 1 + 40)
/*
 * prov_reissue_seal - pass (the guest key's passphrase) sealed under a key
 * derived from the server key and the guest key's fingerprint; its length
 */
size_t prov_reissue_seal(const uint8_t key[32], const char *fpr,
    const char pass[PROV_PASS_TEXT], uint8_t out[PROV_BOX_MAX]);
/* prov_reissue_open - the inverse; -1 if forged, foreign or damaged */
int prov_reissue_open(const uint8_t key[32], const char *fpr, const uint8_t *in,
    size_t len, char pass_r[PROV_PASS_TEXT]);

/* ---- prov_pool.c ---- */
/* A guest key made ahead of time, with the secrets its protection is derived from. */
typedef struct prov_pooled {
	prov_secret sec;            /* L, and P ("" for the kind without PIN) */
	char *fpr;
	pn_buf pub;                 /* armored */
	pn_buf seckey;              /* armored, protected by pn_guest_passphrase(L, P) */
	unsigned long imported;     /* keyring generation that holds pub already; 0 = none */
} prov_pooled;

/*
 * prov_pool_keygen_here - n keys made in this process (pn_gpg_keygen_here),
 * key i protected by keys[i].passphrase; all or nothing
 */
pn_err prov_pool_keygen_here(const char *name, pn_gpg_newkey *keys, size_t n);
/*
 * prov_pool_keygen - what makes a batch of keys (prov_pool_keygen_here);
 * a test may put a wrapper here to make batches fail.
 */
extern pn_err (*prov_pool_keygen)(const char *name, pn_gpg_newkey *keys, size_t n);
/*
 * prov_pool_start - the refill thread, public keys imported ahead into
 * keyring (which must outlive the pool); NULL when size is 0 or it
 * cannot run
 */
prov_pool *prov_pool_start(long size, prov_keyring *keyring);
/* prov_pool_stop - stop the thread, wipe every entry (NULL-tolerant) */
void prov_pool_stop(prov_pool **pool);
/* prov_pool_take - a ready entry of the kind (caller owns it), or NULL */
prov_pooled *prov_pool_take(prov_pool *pool, int with_pin);
/* prov_pool_put_back - an entry that was not used goes back (or is wiped) */
void prov_pool_put_back(prov_pool *pool, prov_pooled **p);
/* prov_pooled_free - wipe and free (NULL-tolerant) */
void prov_pooled_free(prov_pooled **p);

/* ---- prov_render.c ---- */
typedef struct prov_invite {
	const char *from;           /* POSTERN_INVITE_FROM header value */
	const char *recipient;      /* normalised address */
	const char *sender_name;    /* display name ("" if none) */
	const char *sender_addr;
	const char *public_url;     /* without trailing slash */
	const char *link_text;      /* base64url link secret; NULL for a notification */
	int with_pin;
	int reissued;               /* an invitation again: earlier links no longer work */
	int pending;                /* notification: the mailbox was never opened */
	long inactivity_days;
	const char *lang;           /* the mailbox's language tag (checked here) */
	const char *note;           /* the sender's note, or NULL (invitation only) */
} prov_invite;

/* the template kinds of provision's mails, checked at start (prov_init) */
extern const pn_tmpl_kind prov_templates[];
extern const size_t prov_n_templates;
/* the longest note of a sender, in characters */
#define PROV_NOTE_MAX 1000
/* prov_note_clean - the note without control characters (but line ends); NULL if too long */
char *prov_note_clean(const char *note);

/* prov_render_invitation - text + HTML invitation with the link, never the PIN */
uint8_t *prov_render_invitation(const prov_invite *inv, size_t *len_r);
/* prov_render_notification - short text mail: new message, link to the login page */
uint8_t *prov_render_notification(const prov_invite *inv, size_t *len_r);
/* prov_render_locked - notice to the sender: a mailbox got locked (in the mailbox's language) */
uint8_t *prov_render_locked(const char *from, const char *sender,
    const char *recipient, long failures, const char *lang, size_t *len_r);
/* One recipient named in a sender notice. */
typedef struct prov_notice_line {
	const char *recipient;
	const char *pin;            /* the PIN of a mailbox this event created, or NULL */
	const char *reason;         /* why it was REJECTED, or NULL */
} prov_notice_line;

typedef struct prov_notice {
	const char *from;           /* POSTERN_INVITE_FROM header value */
	const char *sender;         /* the event's sender, normalised: To */
	const char *date;           /* the message's Date header ("" if none) */
	long long date_unix;        /* the same parsed, 0 if it does not parse */
	const char *lang;           /* language of the notice */
	const prov_notice_line *lines;
	size_t n;
} prov_notice;

/*
 * prov_render_sender_notice - the one mail to the sender of an event:
 * each new PIN with its recipient (to pass on by phone or in person, never
 * by mail) and each rejected recipient with the reason. Never a link, the
 * body or the subject of the message. Holds PINs: wipe it.
 */
uint8_t *prov_render_sender_notice(const prov_notice *n, size_t *len_r);
/* A receipt to render (prov_render_receipt). */
typedef struct prov_receipt_mail {
	const char *from;           /* POSTERN_INVITE_FROM header value */
	const char *sender;         /* To: the sender who asked for it */
	const char *recipient;      /* the mailbox's address */
	const char *milestone;      /* delivered, opened, read, replied, locked, expired, revoked, deleted */
	int64_t at;                 /* when, Unix seconds */
	const char *event;          /* the send event's id, or NULL (the plain form says less) */
	const char *lang;
} prov_receipt_mail;
/*
 * prov_render_receipt - one receipt mail to the sender: the recipient, the
 * milestone and its time (and the event id unless NULL); never the
 * subject or anything else of the message. NULL for an unknown milestone.
 */
uint8_t *prov_render_receipt(const prov_receipt_mail *r, size_t *len_r);
/* prov_sender_display - "Name <addr>" or "addr" (pn_malloc'd) */
char *prov_sender_display(const char *name, const char *addr);
/*
 * prov_envelope - the list-view record stored encrypted beside a message:
 * "From: ...\nTo: ...\nCc: ...\nSubject: ...\nDate: ...\nAttachments: yes|no\n"
 * (UTF-8, one line each, control characters replaced). pn_malloc'd.
 */
char *prov_envelope(const char *from, const char *to, const char *cc,
    const char *subject, const char *date, int attachments);
/* prov_idem_key - "<event>/<address>/<kind>" or, if longer than 200, with the address hashed */
char *prov_idem_key(const char *event_id, const char *address, const char *kind,
    pn_pool *pool);

/* ---- one send event (prov_send.c, prov_mailbox.c, prov_pgp.c) ---- */
/* Everything one event's recipients share. */
/*
 * prov_early - one recipient's mail encrypted while the key lookup ran,
 * to the key its mailbox had when last seen (prov_recent.c); used only
 * if the lookup names that key (prov_early_take)
 */
typedef struct prov_early {
	const char *address;
	ProtobufCBinaryData key;            /* the key it is encrypted to (pool copy) */
	Postern__V1__NewMessage m;          /* body and envelope; m.body.len 0 = none */
} prov_early;

typedef struct prov_event {
	pn_ctx *ctx;
	prov_state *st;
	pn_pool *pool;
	const Postern__V1__SendEvent *ev;
	const char *sender;                 /* normalised */
	const char *sender_name;            /* from the mail's From, if it is the sender */
	const char *lang;                   /* the event's language, checked (pn_i18n_pick) */
	const Postern__V1__KeyResult *sender_key;   /* KEY_FOUND or NULL */
	char *envelope;                     /* plaintext list-view record */
	int has_attachments;
	const char *date;                   /* the mail's Date header, for the sender notice */
	long long date_unix;                /* the same parsed (0: it does not parse) */
	uint8_t *entity;                    /* the mail's protected body entity (PGP/MIME), once */
	size_t entity_len;
	const char *why;                    /* reason of a whole-event failure */
	pn_gpg *gpg;                        /* the keyring, held while delivering */
	unsigned long gen;                  /* its generation (prov_keyring_lock) */
	int created, exists, found, rejected, delivered, reissued;
	const char *notice;                 /* what became of the sender notice (log) */
	prov_early *early;                  /* one per recipient looked up, or NULL */
	size_t n_early;
	void *let_go;                       /* a ciphertext its Accept frame holds now */
} prov_event;

/* ---- prov_early.c ---- */
/* prov_early_plan - one slot per address looked up, when the mail is small enough */
void prov_early_plan(prov_event *e, char *const *addrs, size_t n);
/*
 * prov_early_encrypt - pn_client_meanwhile work (arg: the prov_event):
 * each planned address with a recent key gets the mail encrypted to it
 */
void prov_early_encrypt(void *arg);
/*
 * prov_early_learn - what the lookup said, for the next mail: active
 * guest mailboxes' keys kept, every other address forgotten
 */
void prov_early_learn(prov_event *e, char *const *addrs, size_t n,
    const Postern__V1__KeyLookupResult *kl);
/* prov_early_drop - the event is over: count what was never used */
void prov_early_drop(prov_event *e);
/*
 * prov_early_take - the mail as encrypted early for address, if it was
 * encrypted to key (the one the lookup named): 1 and *m filled, used up;
 * 0 = encrypt now
 */
int prov_early_take(prov_event *e, const char *address, const ProtobufCBinaryData *key,
    Postern__V1__NewMessage *m);

/* prov_reject - fill an outcome as REJECTED (prov_send.c) */
void prov_reject(prov_event *e, Postern__V1__Outcome *o, const char *why);
/* prov_gpg_fail - a GnuPG failure: an unusable key rejects, the rest is transient */
pn_err prov_gpg_fail(prov_event *e, Postern__V1__Outcome *o, pn_err err, const char *what);
/* prov_outmail - one outbox mail to address; data is taken (wiped and freed) */
Postern__V1__OutMail *prov_outmail(prov_event *e, const char *address,
    const char *kind, uint8_t *data, size_t len);
/*
 * prov_deliver_mailbox - a recipient without a key (prov_mailbox.c): r is
 * keylookup's GUEST or NONE result; a GUEST's mailbox, when keylookup gave
 * it, saves asking mailstore for it again
 */
pn_err prov_deliver_mailbox(prov_event *e, const char *address,
    const Postern__V1__KeyResult *r, Postern__V1__Outcome *o);
/* prov_record_key - the Redis key of (event, address)'s record (pool) */
char *prov_record_key(prov_event *e, const char *address);
/* prov_record_get - (event, address)'s record: 1 found (sec_r set), 0 none, -1 (*err_r) */
int prov_record_get(prov_event *e, const char *address, prov_secret *sec_r, pn_err *err_r);
/* prov_record_claim - the secrets of (event, address): stored ones, or new (offer's first) */
pn_err prov_record_claim(prov_event *e, const char *address, const prov_secret *offer,
    prov_secret *sec);
/* prov_pin_store - the PIN encrypted to the sender's key, for PinQuery */
void prov_pin_store(prov_event *e, int64_t mailbox_id, const char *address, const char *pin);
/* prov_encrypt_message - the event's mail and envelope to a guest key */
pn_err prov_encrypt_message(prov_event *e, const ProtobufCBinaryData *pub,
    Postern__V1__NewMessage *m);
/*
 * prov_encrypt_upload - the same for a message sent next: a mail over
 * POSTERN_PROVISION_PART_BYTES goes to mailstore in parts while gpg
 * encrypts it, and m names the upload. *refused_r: the error is
 * mailstore's answer to a part (*why_r), not gpg's.
 */
pn_err prov_encrypt_upload(prov_event *e, const ProtobufCBinaryData *pub,
    Postern__V1__NewMessage *m, int *refused_r, const char **why_r);
/* prov_in_parts - whether the event's mail goes in parts, as gpg writes it (not early) */
int prov_in_parts(const prov_event *e);
/*
 * prov_reissue - mailbox id (never activated, or locked) re-issued for
 * this event: new link and PIN (the event's record), the key re-protected,
 * the invitation again, with the event's mail when with_message. Sets the
 * outcome. PN_ERR_PERM: it is active (deliver as usual); PN_ERR_NOTFOUND:
 * it is gone; PN_ERR_INTERNAL with e->why unset: it cannot be re-issued
 * (no sealed passphrase: made before re-issue existed).
 */
pn_err prov_reissue(prov_event *e, const char *address, int64_t id, int with_message,
    Postern__V1__Outcome *o);
/* prov_deliver_pgp - a KEY_FOUND recipient with deliver_key_found (prov_pgp.c) */
pn_err prov_deliver_pgp(prov_event *e, const char *address,
    const Postern__V1__KeyResult *r, Postern__V1__Outcome *o);
/*
 * prov_pgp_seal - mail (entity: its protected body entity,
 * pn_mime_pgp_entity) as PGP/MIME encrypted to pub with gpg, in *out_r
 * (pn_malloc'd). PN_ERR_PARAMS: the key cannot encrypt; PN_ERR_INTERNAL:
 * it cannot be wrapped (*why_r); else GnuPG's error.
 */
pn_err prov_pgp_seal(pn_gpg *gpg, const ProtobufCBinaryData *pub, const void *mail, size_t len,
    const uint8_t *entity, size_t entity_len, uint8_t **out_r, size_t *len_r, const char **why_r);
/* prov_sender_notice - the sender's one notice of an event, if there is anything to say */
pn_err prov_sender_notice(prov_event *e, const Postern__V1__SendResult *res,
    const ssize_t *first);

/* ---- prov_send.c ---- */
pn_err prov_op_send(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);
/* prov_event_id_ok - 1..128 printable ASCII without space */
int prov_event_id_ok(const char *id);
/* prov_expiry_ok - expires_at is after now and at most POSTERN_PROVISION_EXPIRES_MAX_DAYS ahead */
int prov_expiry_ok(int64_t expires_at, int64_t now);

/* ---- prov_pin.c ---- */
pn_err prov_op_pin_query(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);
pn_err prov_op_pin_verify(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);
/* prov_op_reissue - ReissueMailbox (posternctl reissue): challenge, then re-issue (prov_ctl.c) */
pn_err prov_op_reissue(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);

/* ---- prov_proof.c: a person proves a key (challenge, then token) ---- */
/* prov_proof_sender_key - keylookup's key for address, or NULL (*err_r TEMP when unsure) */
const Postern__V1__KeyResult *prov_proof_sender_key(prov_state *st, pn_pool *pool,
    const char *address, pn_err *err_r);
/*
 * prov_proof_challenge - a fresh token kept for five minutes for binding
 * (the request it proves), encrypted to the armored key pub: *challenge_r
 * in pool; else the error with *why_r
 */
pn_err prov_proof_challenge(prov_state *st, pn_pool *pool, const char *binding,
    const uint8_t *pub, size_t pub_len, ProtobufCBinaryData *challenge_r, const char **why_r);
/*
 * prov_proof_redeem - PN_OK when token was issued for exactly binding (not
 * yet expired); hex_r: the token's hash, which names the request. PERM
 * otherwise, TEMP without Redis.
 */
pn_err prov_proof_redeem(prov_state *st, pn_pool *pool, const char *binding,
    const ProtobufCBinaryData *token, char hex_r[65], const char **why_r);

/* ---- prov_revoke.c ---- */
/* prov_op_revoke - RevokeEvent (posternctl revoke): challenge, then withdraw */
pn_err prov_op_revoke(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);

/*
 * prov_lockout - seconds a mailbox stays locked after its n-th consecutive
 * failure: 0 below after, then first * 2^(n - after), capped at a day;
 * -1 from max on (locked until re-issued).
 */
long prov_lockout(long n, long after, long first, long max);
/* prov_pin_key - Redis key of the PIN encrypted to the sender (pool) */
char *prov_pin_key(const char *sender, const char *recipient, pn_pool *pool);

#endif
