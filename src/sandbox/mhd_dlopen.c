/*
 * libmicrohttpd, loaded when pulse-lua first starts its embedded sandbox
 * rather than at exec: with libcurl also loaded late (net/curl_dlopen.c),
 * it is the rest of what made pulse-lua start 4.6x slower than lua5.4
 * (its GnuTLS and their libraries, relocated by ld.so at every start).
 * The runner links this file instead of -lmicrohttpd; pulse-sandbox links
 * the library itself.
 *
 * MHD_start_daemon is forwarded in the one shape server.c calls it with:
 * its options in an MHD_OPTION_ARRAY. Any other shape, or a library that
 * cannot be loaded, starts no daemon (NULL), which server.c reports.
 */
#include "util/lazy_library.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

static struct {
	struct MHD_Daemon *(*start_daemon)(unsigned, uint16_t, MHD_AcceptPolicyCallback, void *,
	                                   MHD_AccessHandlerCallback, void *, ...);
	void (*stop_daemon)(struct MHD_Daemon *);
	const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
	const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *,
	                                                       enum MHD_ConnectionInfoType, ...);
	int (*get_connection_values)(struct MHD_Connection *, enum MHD_ValueKind, MHD_KeyValueIterator,
	                             void *);
	const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
	enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
	struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
	void (*destroy_response)(struct MHD_Response *);
	void (*suspend_connection)(struct MHD_Connection *);
	void (*resume_connection)(struct MHD_Connection *);
} real;

static int loaded; /* 1: every function resolved; -1: the library is not there */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	const struct lazy_symbol symbols[] = {
	    {(void **)&real.start_daemon, "MHD_start_daemon"},
	    {(void **)&real.stop_daemon, "MHD_stop_daemon"},
	    {(void **)&real.get_daemon_info, "MHD_get_daemon_info"},
	    {(void **)&real.get_connection_info, "MHD_get_connection_info"},
	    {(void **)&real.get_connection_values, "MHD_get_connection_values"},
	    {(void **)&real.lookup_connection_value, "MHD_lookup_connection_value"},
	    {(void **)&real.queue_response, "MHD_queue_response"},
	    {(void **)&real.create_response_from_buffer, "MHD_create_response_from_buffer"},
	    {(void **)&real.add_response_header, "MHD_add_response_header"},
	    {(void **)&real.destroy_response, "MHD_destroy_response"},
	    {(void **)&real.suspend_connection, "MHD_suspend_connection"},
	    {(void **)&real.resume_connection, "MHD_resume_connection"},
	};
	loaded = lazy_library_load("libmicrohttpd.so.12", symbols, sizeof symbols / sizeof *symbols) ? 1 : -1;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	pthread_once(&once, load);
	if (loaded != 1)
		return NULL;
	va_list ap;
	va_start(ap, dh_cls);
	int option = va_arg(ap, int);
	struct MHD_OptionItem *items =
	    option == MHD_OPTION_ARRAY ? va_arg(ap, struct MHD_OptionItem *) : NULL;
	int end = items ? va_arg(ap, int) : -1;
	va_end(ap);
	if (!items || end != MHD_OPTION_END)
		return NULL;
	return real.start_daemon(flags, port, apc, apc_cls, dh, dh_cls, MHD_OPTION_ARRAY, items,
	                         MHD_OPTION_END);
}

/* The functions below run only on a daemon, or on what it gave: the
 * library is loaded by then. */

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
	real.stop_daemon(daemon);
}

/* The info types server.c asks for take no further argument. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon, enum MHD_DaemonInfoType type, ...)
{
	return real.get_daemon_info(daemon, type);
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *connection,
                                                        enum MHD_ConnectionInfoType type, ...)
{
	return real.get_connection_info(connection, type);
}

int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls)
{
	return real.get_connection_values(connection, kind, iterator, iterator_cls);
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
	return real.lookup_connection_value(connection, kind, key);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status,
                                   struct MHD_Response *response)
{
	return real.queue_response(connection, status, response);
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
	return real.create_response_from_buffer(size, buffer, mode);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
	return real.add_response_header(response, header, content);
}

void MHD_destroy_response(struct MHD_Response *response)
{
	real.destroy_response(response);
}

void MHD_suspend_connection(struct MHD_Connection *connection)
{
	real.suspend_connection(connection);
}

void MHD_resume_connection(struct MHD_Connection *connection)
{
	real.resume_connection(connection);
}
