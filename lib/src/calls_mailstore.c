/*
 * calls_mailstore.c - the typed calls to mailstore (calls.h), one per
 * operation of MailstoreRequest, each pn_call with the operation's oneof
 * member and the result member its reply promises.
 */
#include "postern/calls.h"

/* MS - pn_call to mailstore: request member OP = arg, reply member RESULT into res_r */
#define MS(OP, arg, RESULT, res_r) pn_call(client, pool, &pn_call_mailstore, \
	POSTERN__V1__MAILSTORE_REQUEST__OP_##OP, &(arg)->base, \
	POSTERN__V1__MAILSTORE_REPLY__RESULT_##RESULT, (res_r), why_r)
/* RESULT_NONE - the operation answers with its status only */
#define POSTERN__V1__MAILSTORE_REPLY__RESULT_NONE 0

pn_err pn_ms_get_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__GetMailbox *query, Postern__V1__Mailbox **mailbox_r,
    const char **why_r)
{
	return MS(GET_MAILBOX, query, MAILBOX, mailbox_r);
}

pn_err pn_ms_accept(pn_client *client, pn_pool *pool, const Postern__V1__Accept *accept,
    Postern__V1__Accepted **accepted_r, const char **why_r)
{
	return MS(ACCEPT, accept, ACCEPTED, accepted_r);
}

pn_err pn_ms_store_message(pn_client *client, pn_pool *pool,
    const Postern__V1__StoreMessage *store, Postern__V1__Stored **stored_r,
    const char **why_r)
{
	return MS(STORE_MESSAGE, store, STORED, stored_r);
}

pn_err pn_ms_list_folder(pn_client *client, pn_pool *pool, const Postern__V1__ListFolder *list,
    Postern__V1__FolderPage **page_r, const char **why_r)
{
	return MS(LIST_FOLDER, list, PAGE, page_r);
}

pn_err pn_ms_get_message(pn_client *client, pn_pool *pool, const Postern__V1__GetMessage *get,
    Postern__V1__Message **message_r, const char **why_r)
{
	return MS(GET_MESSAGE, get, MESSAGE, message_r);
}

pn_err pn_ms_mark_seen(pn_client *client, pn_pool *pool, const Postern__V1__MarkSeen *mark,
    const char **why_r)
{
	return MS(MARK_SEEN, mark, NONE, NULL);
}

pn_err pn_ms_delete_message(pn_client *client, pn_pool *pool,
    const Postern__V1__DeleteMessage *del, const char **why_r)
{
	return MS(DELETE_MESSAGE, del, NONE, NULL);
}

pn_err pn_ms_update_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__UpdateMailbox *update, Postern__V1__Mailbox **mailbox_r,
    const char **why_r)
{
	return MS(UPDATE_MAILBOX, update, MAILBOX, mailbox_r);
}

pn_err pn_ms_touch(pn_client *client, pn_pool *pool, const Postern__V1__Touch *touch,
    const char **why_r)
{
	return MS(TOUCH, touch, NONE, NULL);
}

pn_err pn_ms_delete_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__DeleteMailbox *del, const char **why_r)
{
	return MS(DELETE_MAILBOX, del, NONE, NULL);
}

pn_err pn_ms_delete_mailboxes(pn_client *client, pn_pool *pool,
    const Postern__V1__DeleteMailboxes *del, Postern__V1__DeleteResults **deleted_r,
    const char **why_r)
{
	return MS(DELETE_MAILBOXES, del, DELETED, deleted_r);
}

pn_err pn_ms_queue_mail(pn_client *client, pn_pool *pool, const Postern__V1__QueueMail *queue,
    const char **why_r)
{
	return MS(QUEUE_MAIL, queue, NONE, NULL);
}

pn_err pn_ms_list_inactive(pn_client *client, pn_pool *pool,
    const Postern__V1__ListInactive *list, Postern__V1__MailboxList **mailboxes_r,
    const char **why_r)
{
	return MS(LIST_INACTIVE, list, MAILBOXES, mailboxes_r);
}

pn_err pn_ms_list_tombstones(pn_client *client, pn_pool *pool,
    const Postern__V1__ListTombstones *list, Postern__V1__TombstoneList **tombstones_r,
    const char **why_r)
{
	return MS(LIST_TOMBSTONES, list, TOMBSTONES, tombstones_r);
}

pn_err pn_ms_forget_tombstones(pn_client *client, pn_pool *pool,
    const Postern__V1__ForgetTombstones *forget, const char **why_r)
{
	return MS(FORGET_TOMBSTONES, forget, NONE, NULL);
}
