#include "transport.h"

#include "util/metrics.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef PULSE_VERSION
#define PULSE_VERSION "0.0.0"
#endif

struct transport {
	CURL *easy;
	struct transport_options options;
	char *ca_file;
	char *proxy;
	char *user_agent;
	char *auth_line; /* "Authorization: <scheme> <key>", wiped before it is freed */
	/* The headers every request sends, the key's and the User-Agent among
	 * them: built when either changes, not per request. The User-Agent goes
	 * here rather than in CURLOPT_USERAGENT, which libcurl formats afresh
	 * for every request (a tenth of a plain GET's instructions). Shared
	 * with the engine's transfers, which may outlive a rotation. */
	struct shared_headers *base_headers;
	/* Changes whenever the fixed options do, and is never reused across
	 * transports: a pooled handle set up for this value needs no redo. */
	unsigned long generation;
	struct easy_setup own_setup; /* easy's; its fixed options are set as they change */
	int refs;                    /* transport_free drops one; the last frees */
	struct request_stats stats;
};

static int curl_ready;
static volatile sig_atomic_t interrupted;

void transport_interrupt(void)
{
	interrupted = 1;
}

int transport_interrupted(void)
{
	return interrupted;
}

/* libcurl calls this at least once a second while a transfer runs. */
static int check_interrupt(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
	(void)userdata;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return interrupted ? 1 : 0;
}
static unsigned long last_generation;

static void apply_fixed_options(const struct transport *t, CURL *e);
static int rebuild_base_headers(struct transport *t);

const char *transport_library_version(void)
{
	return curl_version_info(CURLVERSION_NOW)->version;
}

static void free_secret(char *s)
{
	if (!s)
		return;
	/* volatile, so the compiler cannot drop a store into memory about to be freed */
	volatile char *v = s;
	while (*v)
		*v++ = '\0';
	free(s);
}

/* Frees a header list, wiping each line first: one of them holds the key. */
static void free_headers(struct curl_slist *list)
{
	for (struct curl_slist *item = list; item; item = item->next) {
		volatile char *v = item->data;
		while (*v)
			*v++ = '\0';
	}
	curl_slist_free_all(list);
}

struct shared_headers {
	int refs;
	struct curl_slist *lines;
};

/* A new reference-counted list holding lines (NULL when out of memory:
 * lines are freed then). */
static struct shared_headers *share(struct curl_slist *lines)
{
	struct shared_headers *h = malloc(sizeof *h);
	if (!h) {
		free_headers(lines);
		return NULL;
	}
	h->refs = 1;
	h->lines = lines;
	return h;
}

void transport_free_headers(struct shared_headers *h)
{
	if (!h || --h->refs > 0)
		return;
	free_headers(h->lines);
	free(h);
}

static int replace_string(char **slot, const char *value)
{
	char *copy = NULL;
	if (value && !(copy = strdup(value)))
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

int transport_library_init(void)
{
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -1;
		curl_ready = 1;
	}
	return 0;
}

struct transport *transport_new(void)
{
	if (transport_library_init() != 0)
		return NULL;
	struct transport *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->easy = curl_easy_init();
	if (!t->easy) {
		free(t);
		return NULL;
	}
	t->refs = 1;
	t->options.connect_timeout_ms = 30000;
	t->options.timeout_ms = 80000;
	t->options.max_body = TRANSPORT_DEFAULT_MAX_BODY;
	t->options.verify = 1;
	char agent[128];
	snprintf(agent, sizeof agent, "pulse-lua/%s libcurl/%s Lua/5.4", PULSE_VERSION,
	         transport_library_version());
	if (replace_string(&t->user_agent, agent) != 0) {
		transport_free(t);
		return NULL;
	}
	if (rebuild_base_headers(t) != 0) {
		transport_free(t);
		return NULL;
	}
	t->generation = ++last_generation;
	apply_fixed_options(t, t->easy);
	return t;
}

struct transport *transport_retain(struct transport *t)
{
	t->refs++;
	return t;
}

void transport_free(struct transport *t)
{
	if (!t || --t->refs > 0)
		return;
	curl_easy_cleanup(t->easy);
	easy_setup_free(&t->own_setup);
	free(t->ca_file);
	free(t->proxy);
	free(t->user_agent);
	free_secret(t->auth_line);
	transport_free_headers(t->base_headers);
	free(t);
}

static size_t collect_body(char *data, size_t size, size_t count, void *userdata);
static size_t collect_header(char *data, size_t size, size_t count, void *userdata);
static int count_transmission(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                              int conn_primary_port, int conn_local_port);

/* The proxy of the transfers: the one given, else none when no proxy
 * variable is set. libcurl reads the proxy variables (getenv, each
 * spelt twice) for every transfer that names no proxy and no exceptions:
 * about 1,500 instructions of a sequential GET's 143,000 (callgrind);
 * "" for both says what those lookups would find. The environment is
 * read once: nothing in pulse-lua sets a proxy variable. */
static void apply_proxy(const struct transport *t, CURL *e)
{
	static int from_environment = -1;
	if (from_environment < 0) {
		static const char *const names[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
		                                    "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
		from_environment = 0;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			const char *value = getenv(names[i]);
			if (value && value[0])
				from_environment = 1;
		}
	}
	int none = !t->proxy && !from_environment;
	curl_easy_setopt(e, CURLOPT_PROXY, none ? "" : t->proxy);
	curl_easy_setopt(e, CURLOPT_NOPROXY, none ? "" : NULL);
}

/* The options that stay the same from request to request are set once:
 * resetting and setting them all per request cost a tenth of a request. */
static void apply_fixed_options(const struct transport *t, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Redirects are followed by the request path (send.lua), which knows
	 * which a write may follow and counts each hop: libcurl does not. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Every encoding libcurl decodes; collect_body counts the decoded
	 * bytes against max_body, so a bomb stops at the bound. */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->options.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->options.verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->options.verify ? 2L : 0L);
	curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file); /* NULL: the system's store */
	apply_proxy(t, e);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, count_transmission);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, check_interrupt);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
}

int transport_set_options(struct transport *t, const struct transport_options *o)
{
	if (replace_string(&t->ca_file, o->ca_file) != 0 || replace_string(&t->proxy, o->proxy) != 0)
		return -1;
	if (o->user_agent && replace_string(&t->user_agent, o->user_agent) != 0)
		return -1;
	t->options = *o;
	t->options.ca_file = t->options.proxy = t->options.user_agent = NULL;
	if (rebuild_base_headers(t) != 0)
		return -1;
	t->generation = ++last_generation;
	apply_fixed_options(t, t->easy);
	return 0;
}

/* Appends line to *list; on failure frees the whole list. Returns 0 or -1. */
static int add_line(struct curl_slist **list, const char *line)
{
	struct curl_slist *next = curl_slist_append(*list, line);
	if (!next) {
		free_headers(*list);
		*list = NULL;
		return -1;
	}
	*list = next;
	return 0;
}

/* "Name: value" in a new string, or NULL when out of memory. */
static char *header_line(const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);
	char *line = malloc(n + 2 + v + 1);
	if (!line)
		return NULL;
	memcpy(line, name, n);
	memcpy(line + n, ": ", 2);
	memcpy(line + n + 2, value, v + 1);
	return line;
}

/* Builds the headers every request sends from t's User-Agent and key line
 * (NULL until a key is set). Returns 0, or -1 with t unchanged. */
static int rebuild_base_headers(struct transport *t)
{
	char *agent = header_line("User-Agent", t->user_agent);
	struct curl_slist *list = NULL;
	int ok = agent && add_line(&list, "Accept: application/json") == 0 && add_line(&list, agent) == 0 &&
	         (!t->auth_line || add_line(&list, t->auth_line) == 0);
	free(agent);
	struct shared_headers *shared = ok ? share(list) : NULL;
	if (!shared) {
		if (!ok)
			free_headers(list);
		return -1;
	}
	transport_free_headers(t->base_headers);
	t->base_headers = shared;
	return 0;
}

int transport_set_key(struct transport *t, const char *scheme, const char *key)
{
	static const char name[] = "Authorization: ";
	size_t size = sizeof name + strlen(scheme) + 1 + strlen(key);
	char *line = malloc(size);
	if (!line)
		return -1;
	snprintf(line, size, "%s%s %s", name, scheme, key);
	char *previous = t->auth_line;
	t->auth_line = line;
	if (rebuild_base_headers(t) != 0) {
		t->auth_line = previous;
		free_secret(line);
		return -1;
	}
	free_secret(previous);
	return 0;
}

/* Called before each sending of the request: libcurl's own re-sends on a
 * new connection come here too. */
static int count_transmission(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                              int conn_primary_port, int conn_local_port)
{
	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	struct http_response *res = userdata;
	res->transmissions++;
	return CURL_PREREQFUNC_OK;
}

/* Stops the transfer (returning this from a callback): why is kept for
 * transport_finish, which reports it instead of libcurl's write error. */
static size_t refuse(struct http_response *res, enum transport_failure why, const char *message)
{
	res->refused = why;
	snprintf(res->message, sizeof res->message, "%s", message);
	return 0;
}

static size_t collect_body(char *data, size_t size, size_t count, void *userdata)
{
	struct http_response *res = userdata;
	size_t n = size * count;
	if (n > res->max_body - res->body.len) { /* body.len never passes max_body */
		char message[128];
		snprintf(message, sizeof message, "response body larger than max_body (%zu bytes)",
		         res->max_body);
		return refuse(res, TRANSPORT_TOO_LARGE, message);
	}
	return buf_append(&res->body, data, n) == 0 ? n : refuse(res, TRANSPORT_NO_MEMORY, "out of memory");
}

static size_t collect_header(char *data, size_t size, size_t count, void *userdata)
{
	struct http_response *res = userdata;
	size_t n = size * count;
	/* A 1xx response starts a new header block: keep the last. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		buf_clear(&res->headers);
		return n;
	}
	size_t len = n;
	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len == 0)
		return n;
	if (len > TRANSPORT_MAX_HEADER_LINE)
		return refuse(res, TRANSPORT_NETWORK, "a response header line is over 64 KB");
	if (res->headers.len + len + 1 > TRANSPORT_MAX_HEADER_BLOCK)
		return refuse(res, TRANSPORT_NETWORK, "the response headers are over 256 KB");
	if (buf_append_line(&res->headers, data, len) != 0)
		return refuse(res, TRANSPORT_NO_MEMORY, "out of memory");
	return n;
}

/* Each request sets the method afresh: libcurl keeps what the last one set. */
static void set_method(CURL *easy, const struct http_request *req)
{
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
		return;
	}
	if (req->body) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
	} else {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	}
	int standard = strcmp(req->method, req->body ? "POST" : "GET") == 0;
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, standard ? NULL : req->method);
}

/* Whether req needs a header list of its own: the base one (less the key,
 * for another origin) plus its body's and its own headers. */
static int needs_own_headers(const struct http_request *req)
{
	return req->body || req->header_count > 0 || req->omit_key;
}

/* Whether line's header name is that of one of req's own headers. */
static int overridden(const char *line, const struct http_request *req)
{
	size_t name_len = strcspn(line, ":");
	for (size_t i = 0; i < req->header_count; i++)
		if (strncasecmp(req->headers[i], line, name_len) == 0 && req->headers[i][name_len] == ':')
			return 1;
	return 0;
}

static int is_key_line(const char *line)
{
	return strncasecmp(line, "Authorization:", 14) == 0;
}

/* The base headers, less those the request sets itself, plus the
 * request's own; NULL when out of memory. */
static struct curl_slist *build_headers(const struct transport *t, const struct http_request *req)
{
	struct curl_slist *list = NULL;
	for (const struct curl_slist *item = t->base_headers->lines; item; item = item->next) {
		if (overridden(item->data, req) || (req->omit_key && is_key_line(item->data)))
			continue;
		if (add_line(&list, item->data) != 0)
			return NULL;
	}
	/* Waiting for 100 Continue costs a round trip and buys nothing here. */
	if (req->body && add_line(&list, "Expect:") != 0)
		return NULL;
	if (req->json_body && add_line(&list, "Content-Type: application/json") != 0)
		return NULL;
	for (size_t i = 0; i < req->header_count; i++)
		if (add_line(&list, req->headers[i]) != 0)
			return NULL;
	return list;
}

void easy_setup_free(struct easy_setup *setup)
{
	free(setup->url);
	setup->url = NULL;
}

/* The options of one request, set where they differ from setup's. A zeroed
 * setup matches libcurl's defaults: no timeout, no fresh connection. */
static void apply_request_options(const struct transport *t, CURL *e, struct easy_setup *setup,
                                  const struct http_request *req, struct http_response *res)
{
	if (!setup->url || strcmp(setup->url, req->url) != 0) {
		curl_easy_setopt(e, CURLOPT_URL, req->url);
		free(setup->url);
		setup->url = strdup(req->url); /* NULL: set again next time */
	}
	long timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : t->options.timeout_ms;
	if (timeout_ms != setup->timeout_ms) {
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
		setup->timeout_ms = timeout_ms;
	}
	int fresh = req->fresh_connection != 0;
	if (fresh != setup->fresh_connection) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
		setup->fresh_connection = fresh;
	}
	res->max_body = req->max_body > 0 ? req->max_body : t->options.max_body;
	res->phases_read = req->phases;
	res->method = metrics_method_of(req->method);
	if (res != setup->res) {
		curl_easy_setopt(e, CURLOPT_WRITEDATA, res);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, res);
		curl_easy_setopt(e, CURLOPT_PREREQDATA, res);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, res->message);
		setup->res = res;
	}
	int plain_get = !req->body && strcmp(req->method, "GET") == 0;
	if (!plain_get || !setup->plain_get)
		set_method(e, req);
	setup->plain_get = plain_get;
}

static enum transport_failure classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return TRANSPORT_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return TRANSPORT_NO_CONNECTION;
	case CURLE_SSL_CONNECT_ERROR:
		return TRANSPORT_TLS;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
		return TRANSPORT_CERTIFICATE;
	case CURLE_OPERATION_TIMEDOUT:
		return TRANSPORT_TIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return TRANSPORT_USAGE;
	case CURLE_OUT_OF_MEMORY:
		/* libcurl 7.88 says this of a response header line past its own
		 * 100 KB too: that fails the request, not the program. (Our own
		 * allocations fail with TRANSPORT_NO_MEMORY, set where they fail.) */
		return TRANSPORT_NETWORK;
	case CURLE_ABORTED_BY_CALLBACK:
		return TRANSPORT_INTERRUPTED;
	default:
		return TRANSPORT_NETWORK;
	}
}

static void clear_response(struct http_response *res)
{
	interrupted = 0;
	res->status = 0;
	res->elapsed = 0;
	res->transmissions = 0;
	res->request_size = 0;
	res->refused = TRANSPORT_OK;
	res->message[0] = '\0';
	buf_clear(&res->headers);
	buf_clear(&res->body);
}

/* Only a request that asks pays for these: a trace's. */
static void read_phases(CURL *easy, struct http_response *res)
{
	struct http_phases *p = &res->phases;
	curl_off_t uploaded = 0;
	long header_size = 0;
	curl_easy_getinfo(easy, CURLINFO_NAMELOOKUP_TIME, &p->dns);
	curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME, &p->connect);
	curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME, &p->tls);
	curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME, &p->first_byte);
	p->total = res->elapsed;
	curl_easy_getinfo(easy, CURLINFO_HEADER_SIZE, &header_size);
	curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
	p->bytes_in = (double)header_size + (double)res->body.len;
	p->bytes_out = (double)res->request_size + (double)uploaded;
}

void transport_finish(CURL *easy, CURLcode rc, struct http_response *res)
{
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &res->elapsed);
	curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &res->request_size);
	if (res->phases_read)
		read_phases(easy, res);
	/* What a callback refused is why libcurl stopped: its own code then
	 * only says that a callback did. */
	res->failure = res->refused != TRANSPORT_OK && rc != CURLE_OK ? res->refused : classify(rc);
	if (rc == CURLE_OUT_OF_MEMORY && res->message[0] == '\0')
		snprintf(res->message, sizeof res->message,
		         "libcurl gave up reading the response: out of memory, or a header line past 100 KB");
	if (rc != CURLE_OK && res->message[0] == '\0')
		snprintf(res->message, sizeof res->message, "%s", curl_easy_strerror(rc));
}

enum transport_failure transport_perform(struct transport *t, const struct http_request *req,
                                         struct http_response *res)
{
	clear_response(res);
	int own_list = needs_own_headers(req);
	struct curl_slist *headers = own_list ? build_headers(t, req) : t->base_headers->lines;
	if (!headers) {
		snprintf(res->message, sizeof res->message, "out of memory");
		return res->failure = TRANSPORT_NO_MEMORY;
	}
	apply_request_options(t, t->easy, &t->own_setup, req, res);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, headers);
	CURLcode rc = curl_easy_perform(t->easy);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
	if (own_list)
		free_headers(headers);
	transport_finish(t->easy, rc, res);
	transport_count(t, res, req->body ? req->body_len : 0);
	return res->failure;
}

void transport_count(struct transport *t, const struct http_response *res, size_t body_len)
{
	/* An attempt that never left counts as one request too. */
	int requests = res->transmissions > 1 ? res->transmissions : 1;
	/* libcurl counts the head it sent, and a body it sent along with it;
	 * a large body goes apart, uncounted. */
	size_t head = res->request_size > 0 ? (size_t)res->request_size : 0;
	size_t sent = head >= body_len ? head : head + body_len;
	request_stats_record(&t->stats, requests, res->elapsed,
	                     res->failure == TRANSPORT_OK ? res->body.len : 0, sent);
	metrics_record_attempt((enum metrics_method)res->method,
	                       res->failure == TRANSPORT_OK ? res->status : 0, res->elapsed,
	                       res->transmissions);
}

const struct request_stats *transport_stats(const struct transport *t)
{
	return &t->stats;
}

int transport_setup(const struct transport *t, CURL *easy, struct easy_setup *setup,
                    const struct http_request *req, struct http_response *res,
                    struct shared_headers **headers)
{
	clear_response(res);
	if (needs_own_headers(req)) {
		struct curl_slist *own = build_headers(t, req);
		if (!own || !(*headers = share(own)))
			return -1;
	} else {
		*headers = t->base_headers;
		(*headers)->refs++;
	}
	if (setup->generation != t->generation) {
		apply_fixed_options(t, easy);
		setup->generation = t->generation;
	}
	apply_request_options(t, easy, setup, req, res);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, (*headers)->lines);
	return 0;
}

void http_response_free(struct http_response *res)
{
	buf_free(&res->headers);
	buf_free(&res->body);
}
