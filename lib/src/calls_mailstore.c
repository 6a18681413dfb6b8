/*
 * calls_mailstore.c - the typed calls to mailstore (calls.h), one per
 * operation of MailstoreRequest but the retired DeleteMailbox. Each is
 * pn_call with the operation's request member and the result member its
 * reply promises, so the file is a table: function, argument type,
 * request member; result type and member (PN_CALL_DEFINE, calls_int.h).
 * calls.h declares and documents each; the compiler holds every
 * definition to its declaration.
 */
#include "postern/calls.h"
#include "calls_int.h"

#define CALL(name, Arg, OP, Res, RESULT) \
	PN_CALL_DEFINE(name, mailstore, MAILSTORE, Arg, OP, Res, RESULT)
#define CALL_STATUS(name, Arg, OP) PN_CALL_DEFINE_STATUS(name, mailstore, MAILSTORE, Arg, OP)

CALL(pn_ms_get_mailbox, GetMailbox, GET_MAILBOX, Mailbox, MAILBOX)
CALL(pn_ms_accept, Accept, ACCEPT, Accepted, ACCEPTED)
CALL(pn_ms_store_message, StoreMessage, STORE_MESSAGE, Stored, STORED)
CALL(pn_ms_list_folder, ListFolder, LIST_FOLDER, FolderPage, PAGE)
CALL(pn_ms_get_message, GetMessage, GET_MESSAGE, Message, MESSAGE)
CALL_STATUS(pn_ms_mark_seen, MarkSeen, MARK_SEEN)
CALL_STATUS(pn_ms_delete_message, DeleteMessage, DELETE_MESSAGE)
CALL(pn_ms_update_mailbox, UpdateMailbox, UPDATE_MAILBOX, Mailbox, MAILBOX)
CALL_STATUS(pn_ms_touch, Touch, TOUCH)
CALL_STATUS(pn_ms_set_locale, SetLocale, SET_LOCALE)
CALL(pn_ms_delete_mailboxes, DeleteMailboxes, DELETE_MAILBOXES, DeleteResults, DELETED)
CALL_STATUS(pn_ms_queue_mail, QueueMail, QUEUE_MAIL)
CALL(pn_ms_list_inactive, ListInactive, LIST_INACTIVE, MailboxList, MAILBOXES)
CALL(pn_ms_list_tombstones, ListTombstones, LIST_TOMBSTONES, TombstoneList, TOMBSTONES)
CALL_STATUS(pn_ms_forget_tombstones, ForgetTombstones, FORGET_TOMBSTONES)
