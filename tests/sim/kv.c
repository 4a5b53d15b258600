/*
 * The tiny key/value state machine the simulated nodes replicate, and its
 * snapshot format. A command is "put key = write id" (write ids are unique,
 * so every value names the one write that produced it), padded to a random
 * length so that entries of different sizes meet the byte limits of
 * AppendEntries. Each key remembers the log index of its last write, which
 * the linearizability checks need.
 *
 * The state also carries a hash chain over every applied entry (index, term,
 * type, data): two state machines at the same applied index with the same
 * chain applied the same entries, which lets checks.c compare a snapshot
 * with the committed history without replaying it.
 *
 * Snapshot bytes: "KVS1", applied, applied term, chain, the keys, the
 * newest applied configuration (rc_membership_encode), filler, and a hash
 * of all of it, so a chunking bug shows up as a corrupt snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001B3ull;
	return h;
}

uint64_t entry_hash(uint8_t type, const void *data, uint32_t len)
{
	uint64_t h = fnv(0xCBF29CE484222325ull, &type, 1);
	return mix(fnv(h, data, len) ^ len);
}

uint64_t chain_next(uint64_t chain, rc_index index, rc_term term, uint64_t hash)
{
	return mix(chain ^ mix(index * 0x9E3779B97F4A7C15ull ^ mix(term + 0x632BE59BD9B4E019ull)) ^
		   hash);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t kv_cmd_put(uint8_t *buf, uint8_t key, uint64_t wid, uint32_t pad)
{
	buf[0] = 'P';
	buf[1] = key;
	put64(buf + 2, wid);
	for (uint32_t i = 0; i < pad; i++)
		buf[KV_CMD_MIN + i] = (uint8_t)(wid + i);
	return KV_CMD_MIN + pad;
}

bool kv_cmd_parse(const void *data, uint32_t len, uint8_t *key, uint64_t *wid)
{
	const uint8_t *p = data;
	if (len < KV_CMD_MIN || p[0] != 'P')
		return false;
	*key = p[1];
	*wid = get64(p + 2);
	return *wid != 0;
}

void kv_init(struct kv *kv, uint32_t nkeys, const struct rc_snapshot_meta *at)
{
	memset(kv, 0, sizeof(*kv));
	kv->nkeys = nkeys;
	kv->applied = at->index;
	kv->applied_term = at->term;
	kv->memb = at->membership;
}

const char *kv_apply(struct kv *kv, const struct rc_entry *e)
{
	if (e->index != kv->applied + 1)
		return "committed entries do not follow the applied index";
	switch (e->type) {
	case RC_ENTRY_COMMAND: {
		uint8_t key;
		uint64_t wid;
		if (!kv_cmd_parse(e->data, e->len, &key, &wid) || key >= kv->nkeys)
			return "malformed command entry";
		kv->val[key] = wid;
		kv->widx[key] = e->index;
		break;
	}
	case RC_ENTRY_CONFIG:
		if (rc_membership_decode(e->data, e->len, &kv->memb) != 0)
			return "configuration entry does not decode";
		break;
	case RC_ENTRY_NOOP:
		break;
	default:
		return "unknown entry type";
	}
	kv->applied = e->index;
	kv->applied_term = e->term;
	kv->chain = chain_next(kv->chain, e->index, e->term, entry_hash(e->type, e->data, e->len));
	return NULL;
}

#define KV_HDR (4 + 8 + 8 + 8 + 4)

uint8_t *kv_encode(const struct kv *kv, uint32_t pad, size_t *len)
{
	size_t mlen = rc_membership_encoded_size(&kv->memb);
	size_t n = KV_HDR + 16 * (size_t)kv->nkeys + 4 + mlen + 4 + pad + 8;
	uint8_t *b = malloc(n);
	if (!b)
		abort();
	uint8_t *p = b;
	memcpy(p, "KVS1", 4);
	p += 4;
	put64(p, kv->applied);
	put64(p + 8, kv->applied_term);
	put64(p + 16, kv->chain);
	p += 24;
	memcpy(p, &kv->nkeys, 4);
	p += 4;
	for (uint32_t k = 0; k < kv->nkeys; k++, p += 16) {
		put64(p, kv->val[k]);
		put64(p + 8, kv->widx[k]);
	}
	uint32_t m32 = (uint32_t)mlen;
	memcpy(p, &m32, 4);
	p += 4;
	if (rc_membership_encode(&kv->memb, p, mlen) != (int)mlen)
		abort();
	p += mlen;
	memcpy(p, &pad, 4);
	p += 4;
	for (uint32_t i = 0; i < pad; i++)
		*p++ = (uint8_t)(i * 31 + kv->applied);
	put64(p, entry_hash(0, b, (uint32_t)(n - 8)));
	*len = n;
	return b;
}

const char *kv_decode(struct kv *kv, const void *data, size_t len)
{
	const uint8_t *b = data, *p = b, *end = b + len;
	if (len < KV_HDR + 8 || memcmp(b, "KVS1", 4) != 0)
		return "snapshot bytes: bad header";
	if (get64(end - 8) != entry_hash(0, b, (uint32_t)(len - 8)))
		return "snapshot bytes: checksum mismatch";
	end -= 8;
	memset(kv, 0, sizeof(*kv));
	p += 4;
	kv->applied = get64(p);
	kv->applied_term = get64(p + 8);
	kv->chain = get64(p + 16);
	p += 24;
	memcpy(&kv->nkeys, p, 4);
	p += 4;
	if (kv->nkeys > KV_MAX_KEYS || (size_t)(end - p) < 16 * (size_t)kv->nkeys + 4)
		return "snapshot bytes: bad key count";
	for (uint32_t k = 0; k < kv->nkeys; k++, p += 16) {
		kv->val[k] = get64(p);
		kv->widx[k] = get64(p + 8);
	}
	uint32_t mlen;
	memcpy(&mlen, p, 4);
	p += 4;
	if ((size_t)(end - p) < (size_t)mlen + 4)
		return "snapshot bytes: bad membership length";
	if (rc_membership_decode(p, mlen, &kv->memb) != 0)
		return "snapshot bytes: membership does not decode";
	p += mlen;
	uint32_t pad;
	memcpy(&pad, p, 4);
	p += 4;
	if ((size_t)(end - p) != pad)
		return "snapshot bytes: bad length";
	return NULL;
}
