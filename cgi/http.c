#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sbuf.h"

enum { HEADER_NAME_MAX = 128, READ_CHUNK = 16 * 1024, RESPONSE_HEAD_MAX = 512 };

static const char *param(FCGX_Request *f, const char *name)
{
	const char *v = FCGX_GetParam(name, f->envp);
	return v ? v : "";
}

void http_req_init(struct http_req *r, FCGX_Request *fcgi, struct arena *a)
{
	memset(r, 0, sizeof *r);
	r->fcgi = fcgi;
	r->arena = a;
	/* Copied: the request loop still logs them after FCGX_Finish_r(). */
	r->method = arena_strdup(a, param(fcgi, "REQUEST_METHOD"));
	r->path = arena_strdup(a, param(fcgi, "DOCUMENT_URI"));
	r->query = param(fcgi, "QUERY_STRING");
	r->content_type = param(fcgi, "CONTENT_TYPE");
	r->request_id = param(fcgi, "REQUEST_ID");
	r->body = "";
}

const char *http_header(const struct http_req *r, const char *name)
{
	char cgi_name[HEADER_NAME_MAX];
	size_t n = strlen(name);
	if (n + 5 >= sizeof cgi_name)
		return NULL;
	memcpy(cgi_name, "HTTP_", 5);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		cgi_name[5 + i] = c == '-' ? '_' : (char)toupper(c);
	}
	cgi_name[5 + n] = '\0';
	return FCGX_GetParam(cgi_name, r->fcgi->envp);
}

int http_read_body(struct http_req *r, size_t max, struct err *e)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgi->envp);
	size_t want = 0;
	if (cl != NULL && cl[0] != '\0') {
		char *end;
		unsigned long long v = strtoull(cl, &end, 10);
		if (*end != '\0' || cl[0] == '-')
			return err_set(e, APP_ERR_BAD_INPUT, "invalid Content-Length", NULL);
		if (v > max)
			return err_set(e, APP_ERR_TOO_LARGE, "request body too large",
			    "content_length=%llu max=%zu", v, max);
		want = (size_t)v;
	}
	/* nginx always sends a length for bodies it buffered; read what the
	 * stream holds up to max + 1 so a missing length cannot overflow. */
	size_t cap = cl != NULL && cl[0] != '\0' ? want : max + 1;
	char *buf = arena_alloc(r->arena, cap + 1);
	size_t got = 0;
	while (got < cap) {
		size_t chunk = cap - got < READ_CHUNK ? cap - got : READ_CHUNK;
		int n = FCGX_GetStr(buf + got, (int)chunk, r->fcgi->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got > max)
		return err_set(e, APP_ERR_TOO_LARGE, "request body too large",
		    "read=%zu max=%zu", got, max);
	if (cl != NULL && cl[0] != '\0' && got < want)
		return err_set(e, APP_ERR_BAD_INPUT, "request body shorter than Content-Length",
		    "read=%zu want=%zu", got, want);
	buf[got] = '\0';
	r->body = buf;
	r->body_len = got;
	return 0;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void http_respond(struct http_req *r, int status, const char *content_type,
    const char *extra_headers, const char *body, size_t len)
{
	if (r->responded) {
		log_kv(LOG_ERROR, "double_response", "path", r->path, NULL);
		return;
	}
	r->responded = true;
	/* libfcgi's own printf knows no %zu: build the head with snprintf. */
	char head[RESPONSE_HEAD_MAX];
	int n = snprintf(head, sizeof head, "Status: %d %s\r\n%s%s%sContent-Length: %zu\r\n",
	    status, status_text(status), content_type ? "Content-Type: " : "",
	    content_type ? content_type : "", content_type ? "\r\n" : "", len);
	if (n < 0 || (size_t)n >= sizeof head) {
		log_kv(LOG_ERROR, "response_head_too_long", "path", r->path, NULL);
		return;
	}
	FCGX_PutStr(head, n, r->fcgi->out);
	if (extra_headers != NULL)
		FCGX_PutS(extra_headers, r->fcgi->out);
	FCGX_PutS("\r\n", r->fcgi->out);
	if (len > 0 && strcmp(r->method, "HEAD") != 0)
		FCGX_PutStr(body, (int)len, r->fcgi->out);
}

void http_respond_error(struct http_req *r, int status, enum app_err code,
    const char *message, const char *extra_headers)
{
	struct sbuf sb;
	sbuf_init(&sb, 0);
	sbuf_puts(&sb, "{\"errors\":[{\"message\":");
	sbuf_json_str(&sb, message, strlen(message));
	sbuf_printf(&sb, ",\"extensions\":{\"code\":\"%s\"}}]}", app_err_code(code));
	http_respond(r, status, "application/json; charset=utf-8", extra_headers,
	    sb.p, sb.len);
	sbuf_clear(&sb);
}
