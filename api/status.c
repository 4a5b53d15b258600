/*
 * GET /v1/status and GET /v1/health (API.md "Cluster and operations").
 *
 * Both answer from what the backend reports at once (no log, no wait).
 * Status renders every member; fields that are not known (no leader, a
 * member's progress on a non-leader) are JSON null rather than a made-up 0.
 * Health is the text "ok" when the backend says so, else the usual JSON
 * error with the backend's status and reason.
 */
#include <string.h>

#include "request.h"

int api_status_parse(struct api_request *r, const char *q, size_t q_len)
{
	if (api_parse_params(r, q, q_len, NULL, 0, NULL) != 0)
		return -1;
	r->action = API_ACTION_STATUS;
	return 0;
}

int api_health_parse(struct api_request *r, const char *q, size_t q_len)
{
	if (api_parse_params(r, q, q_len, NULL, 0, NULL) != 0)
		return -1;
	r->action = API_ACTION_HEALTH;
	return 0;
}

static void field_u64(struct api_buf *b, const char *name, uint64_t v)
{
	api_buf_adds(b, name);
	api_buf_u64(b, v);
}

static void field_str(struct api_buf *b, const char *name, const char *s)
{
	api_buf_adds(b, name);
	size_t n = s != NULL ? strnlen(s, 256) : 0;
	if (s == NULL)
		api_buf_adds(b, "null");
	else if (api_utf8_valid((const uint8_t *)s, n))
		api_json_str(b, (const uint8_t *)s, n);
	else
		api_buf_adds(b, "\"\"");
}

/* A fixed char[] from the backend, which may lack its NUL. */
static void field_chars(struct api_buf *b, const char *name, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	api_buf_adds(b, name);
	if (api_utf8_valid((const uint8_t *)s, n))
		api_json_str(b, (const uint8_t *)s, n);
	else
		api_buf_adds(b, "\"\"");
}

void api_status_render(const struct api_node_status *st, const struct api_meta *meta,
		       struct api_response *out)
{
	struct api_buf *b = &out->body;

	out->http = 200;
	out->content_type = api_ct_json;
	out->meta = *meta;
	out->index = st->applied_index;
	field_u64(b, "{\"id\":", st->id);
	field_str(b, ",\"role\":", st->role);
	field_u64(b, ",\"term\":", st->term);
	if (st->leader != 0)
		field_u64(b, ",\"leader\":", st->leader);
	else
		api_buf_adds(b, ",\"leader\":null");
	field_u64(b, ",\"commit_index\":", st->commit_index);
	field_u64(b, ",\"applied_index\":", st->applied_index);
	field_u64(b, ",\"last_log_index\":", st->last_log_index);
	field_u64(b, ",\"snapshot_index\":", st->snapshot_index);
	api_buf_adds(b, ",\"members\":[");
	size_t n = st->n_members < API_MAX_MEMBERS ? st->n_members : API_MAX_MEMBERS;
	for (size_t i = 0; i < n; i++) {
		const struct api_member_status *m = &st->members[i];
		field_u64(b, i == 0 ? "{\"id\":" : ",{\"id\":", m->id);
		field_chars(b, ",\"api\":", m->api, sizeof m->api);
		field_chars(b, ",\"peer\":", m->peer, sizeof m->peer);
		api_buf_adds(b, m->voter ? ",\"voter\":true" : ",\"voter\":false");
		if (m->has_progress) {
			field_u64(b, ",\"match_index\":", m->match_index);
			field_u64(b, ",\"last_contact_ms\":", m->last_contact_ms);
		} else {
			api_buf_adds(b, ",\"match_index\":null,\"last_contact_ms\":null");
		}
		api_buf_add(b, "}", 1);
	}
	api_buf_adds(b, "]}");
}

void api_health_render(enum api_status health, const char *reason, const struct api_meta *meta,
		       struct api_response *out)
{
	if (health != API_OK) {
		api_render_error(out, health, reason, meta, 0);
		return;
	}
	out->http = 200;
	out->content_type = api_ct_text;
	out->meta = *meta;
	out->index = meta->index;
	api_buf_adds(&out->body, "ok");
}
