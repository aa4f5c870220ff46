/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Flows and direction: which endpoint originated a flow (SPEC §3), and the
 * fragments that borrow their first fragment's ports. */
#ifndef TM_BPF_FLOW_H
#define TM_BPF_FLOW_H

#include "maps.h"
#include "parse.h"
#include "account.h"

/* Any total order serves: it only has to put both directions of a flow on
 * one key. Raw words avoid byte swaps. */
static __always_inline int tm_endpoint_less(const __u8 *a, __u16 aport, const __u8 *b, __u16 bport)
{
	__u32 x, y;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		__builtin_memcpy(&x, TM_CADDR(a) + 4 * i, 4);
		__builtin_memcpy(&y, TM_CADDR(b) + 4 * i, 4);
		if (x != y)
			return x < y;
	}
	return aport < bport;
}

/* The key's words: it is 8-byte aligned, and the copies compile to loads. */
static __always_inline void tm_key_words(const struct tm_flow_key *k, __u64 w[5])
{
	__builtin_memcpy(w, k, sizeof(*k));
}

/* The last word of struct tm_flow_key (ports, protocol, family, pad 0) as
 * it lies in memory (tm_word_part). */
static __always_inline __u64 tm_key_tail(__be16 port0, __be16 port1, __u8 proto, __u8 family)
{
	return tm_word_part(port0, 0, 2) | tm_word_part(port1, 2, 2) | tm_word_part(proto, 4, 1) |
	       tm_word_part(family, 5, 1);
}

/*
 * Normalized key of a tuple, in k and as its words in w; returns the
 * endpoint (0 or 1) of its sender. Every word of k is written by one 8-byte
 * store and w is read back from k only after all of them: the words are
 * then forwarded from the store buffer, where a load spanning the ports',
 * protocol's and family's separate stores waited for them to reach the
 * cache (docs/BENCHMARKS.md, "Stop 23").
 */
static __always_inline __u8 tm_flow_key_of(const struct tm_tuple *t, __u8 family,
					   struct tm_flow_key *k, __u64 w[5])
{
	__u8 sender = tm_endpoint_less(t->daddr, t->dport, t->saddr, t->sport);
	__u64 tail;

	/* Constant indexes only: the verifier rejects variable stack offsets. */
	if (sender) {
		__builtin_memcpy(k->addr[0], t->daddr, 16);
		__builtin_memcpy(k->addr[1], t->saddr, 16);
		tail = tm_key_tail(t->dport, t->sport, t->proto, family);
	} else {
		__builtin_memcpy(k->addr[0], t->saddr, 16);
		__builtin_memcpy(k->addr[1], t->daddr, 16);
		tail = tm_key_tail(t->sport, t->dport, t->proto, family);
	}
	__builtin_memcpy(k->port, &tail, sizeof(tail));
	tm_key_words(k, w);
	return sender;
}

/* TCP SYN names the originator whatever the table remembers: SYN alone is
 * a new connection from its sender, SYN+ACK answers one from its receiver. */
static __always_inline int tm_syn_originator(__u8 tcp_flags, __u8 sender)
{
	if (!(tcp_flags & TM_TCP_SYN))
		return -1;
	return (tcp_flags & TM_TCP_ACK) ? !sender : sender;
}

static __always_inline void tm_resolve(struct tm_scratch *s, struct tm_flow_value *fv,
				       const struct tm_flow_key *k, __u32 rules_gen)
{
	fv->rule[0] = tm_match_rule(s, k->family, k->addr[0]);
	fv->rule[1] = tm_match_rule(s, k->family, k->addr[1]);
	fv->rules_gen = rules_gen;
}

/* A flow not in the table yet: originated by `originator`, rules resolved. */
static __always_inline void tm_new_flow(struct tm_scratch *s, struct tm_flow_value *v,
					const struct tm_flow_key *k, __u8 originator, __u32 rules_gen)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->originator = originator;
	tm_resolve(s, v, k, rules_gen);
}

/* The flow table (struct tm_flow_bucket in the shared header). */

static __always_inline int tm_same_key(const struct tm_flow_key *a, const __u64 w[5])
{
	__u64 x[5];

	tm_key_words(a, x);
	return ((x[0] ^ w[0]) | (x[1] ^ w[1]) | (x[2] ^ w[2]) | (x[3] ^ w[3]) | (x[4] ^ w[4])) == 0;
}

#define TM_READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))

/* A bucket's ways' entries, looked up before its lock is taken: the verifier
 * allows no helper call under a bpf_spin_lock, and a pool entry's address
 * comes from one. */
struct tm_ways {
	/* Never NULL, for the verifier's sake (six pointers that may each be
	 * NULL make too many states to explore): a way with no entry yet has
	 * idx 0 and points at entry 0, which is never handed out. */
	struct tm_flow_entry *e[TM_FLOW_SLOTS];
	__u32 idx[TM_FLOW_SLOTS];
};

/* &b->recent[i], opaque: the compiler would otherwise merge the six found
 * branches of a search into one, at b->recent + i, a variable offset into
 * the bucket, which the verifier refuses without CAP_PERFMON. */
static __always_inline __u8 *tm_recent_of(struct tm_flow_bucket *b, const int i)
{
	__u8 *recent = &b->recent[i];

	asm volatile("" : "+r"(recent));
	return recent;
}

/* Marks a way recently used; a line written only when it changes. */
static __always_inline void tm_mark_recent(__u8 *recent)
{
	if (!*recent)
		*recent = 1;
}

/*
 * The way of the flow in bucket b, its value copied to out and its way
 * marked recently used; -1 if the bucket has no such flow. Without the
 * lock (ws NULL, a constant once inlined), each way's entry is looked up
 * from its index: the caller checks b->seq around the search, and an index
 * read while a writer moves it finds some entry of the pool or none. Under
 * the lock, the entries pinned in ws serve (no helper call under a lock).
 * Ways are visited with constant indexes only, so no later access needs a
 * variable offset into the bucket or ws.
 */
static __always_inline int tm_find_way(struct tm_flow_bucket *b, const struct tm_ways *ws,
				       __u32 tag, const __u64 w[5], struct tm_flow_value *out)
{
	struct tm_flow_entry *e;
	__u8 *recent;
	__u32 idx;
	int i;

#pragma unroll
	for (i = 0; i < TM_FLOW_SLOTS; i++) {
		recent = tm_recent_of(b, i);
		if (b->tag[i] != tag)
			continue;
		if (ws) {
			e = ws->e[i];
			asm volatile("" : "+r"(e));
		} else {
			idx = TM_READ_ONCE(b->entry[i]);
			e = bpf_map_lookup_elem(&tm_flow_pool, &idx);
		}
		if (e && tm_same_key(&e->key, w)) {
			__builtin_memcpy(out, &e->value, sizeof(*out));
			tm_mark_recent(recent);
			return i;
		}
	}
	return -1;
}

/*
 * Takes b's lock with its ways' entries in ws: they are looked up first,
 * and checked under the lock (a writer may have moved one meanwhile; then
 * once more). 0, without the lock, if they changed both times.
 */
static __always_inline int tm_lock_ways(struct tm_flow_bucket *b, struct tm_ways *ws)
{
	int attempt, i, changed;

#pragma unroll
	for (attempt = 0; attempt < 2; attempt++) {
#pragma unroll
		for (i = 0; i < TM_FLOW_SLOTS; i++) {
			ws->idx[i] = TM_READ_ONCE(b->entry[i]);
			ws->e[i] = bpf_map_lookup_elem(&tm_flow_pool, &ws->idx[i]);
			if (!ws->e[i])
				return 0; /* an index past the pool: not one of ours */
		}
		bpf_spin_lock(&b->lock);
		changed = 0;
#pragma unroll
		for (i = 0; i < TM_FLOW_SLOTS; i++)
			changed |= b->entry[i] != ws->idx[i];
		if (!changed)
			return 1;
		bpf_spin_unlock(&b->lock);
	}
	return 0;
}

#define TM_FLOW_BUSY -2 /* tm_lock_ways() gave up: no answer from the table */

/* The flow's way in b and its value in out, -1 if b has no such flow, or
 * TM_FLOW_BUSY: a lockless read that falls back to the lock when a writer
 * is, or was, at work on the bucket. */
static __always_inline int tm_read_flow(struct tm_flow_bucket *b, __u32 tag, const __u64 w[5],
					struct tm_flow_value *out, struct tm_ways *ws)
{
	int slot;
#ifndef TM_LOCKED_READS
	__u32 seq = TM_READ_ONCE(b->seq);

	if (!(seq & 1)) {
		tm_forget();
		slot = tm_find_way(b, 0, tag, w, out);
		tm_forget();
		if (TM_READ_ONCE(b->seq) == seq)
			return slot;
	}
#endif
	if (!tm_lock_ways(b, ws))
		return TM_FLOW_BUSY;
	slot = tm_find_way(b, ws, tag, w, out);
	bpf_spin_unlock(&b->lock);
	return slot;
}

/*
 * A way's index as a value the verifier does not know: stored into map
 * memory (the per-CPU scratch) and read back, since the verifier never
 * tracks a map value's content. Each exit of tm_find_way() and tm_victim_of()
 * returns a constant, and every later test of it ("slot < 0", tm_is()) is
 * then a branch whose outcome the verifier knows; without CAP_PERFMON it
 * walks the other side too, as a CPU might speculatively, once for each
 * constant, into the insert and move code. Unknown, the six ways' paths
 * meet and are walked once: Linux 6.1 without CAP_PERFMON processed 751,605
 * instructions of the 1,000,000 it allows for tm_ingress_eth, 168,910 with
 * this (docs/BENCHMARKS.md, "Stop 29"). An xor with a value xor-ed with
 * itself through an opaque copy was tried instead: the verifier then
 * walked more, not less.
 */
static __always_inline int tm_opaque_way(int way, __s32 *cell)
{
	TM_READ_ONCE(*cell) = way;
	return TM_READ_ONCE(*cell);
}

/* The way a flow takes in the group of n ways from first: an empty one,
 * else one not used since the group's last eviction, else (all were used)
 * one the tag picks, after which the group's use starts over. */
static __always_inline int tm_victim_of(struct tm_flow_bucket *b, const int first, const int n,
					__u32 tag)
{
	int i;

#pragma unroll
	for (i = first; i < first + n; i++)
		if (!b->tag[i])
			return i;
#pragma unroll
	for (i = first; i < first + n; i++)
		if (!b->recent[i])
			return i;
#pragma unroll
	for (i = first; i < first + n; i++)
		b->recent[i] = 0;
	return first + (int)((tag >> 1) & (n - 1));
}

/* tm_victim_of()'s way, which the verifier does not know (tm_opaque_way). */
static __always_inline int tm_victim(struct tm_flow_bucket *b, const int first, const int n,
				     __u32 tag, __s32 *cell)
{
	return tm_opaque_way(tm_victim_of(b, first, n, tag), cell);
}

/* slot == i, in a way the compiler cannot fold into an access at a
 * variable offset (a loop "for each i: if (i == slot) use b->tag[i]"
 * becomes "use b->tag[slot]" otherwise, which the verifier refuses
 * without CAP_PERFMON: the range it sees includes the bucket's lock). */
static __always_inline int tm_is(int slot, const int i)
{
	asm volatile("" : "+r"(slot));
	return slot == i;
}

/* The index of an entry of the pool for a way that has none, taken from
 * this CPU's reserve; 0 when the pool is all handed out. The reserve is
 * refilled from the pool's allocator under that one's lock, released before
 * the bucket's is taken: BPF holds one lock at a time. */
static __always_inline __u32 tm_take_reserved(void)
{
	struct tm_flow_reserve *r;
	struct tm_flow_alloc *a;
	__u32 zero = 0, used, take, idx;

	r = bpf_map_lookup_elem(&tm_flow_reserve, &zero);
	if (!r)
		return 0;
	if (r->next >= r->end) {
		a = bpf_map_lookup_elem(&tm_flow_alloc, &zero);
		if (!a)
			return 0;
		bpf_spin_lock(&a->lock);
		used = a->used;
		take = used < tm_flow_pool_entries - 1 ? tm_flow_pool_entries - 1 - used : 0;
		if (take > TM_FLOW_RESERVE)
			take = TM_FLOW_RESERVE;
		a->used = used + take;
		bpf_spin_unlock(&a->lock);
		r->next = used + 1; /* entry 0 is never handed out */
		r->end = used + 1 + take;
	}
	idx = r->next;
	if (idx >= r->end)
		return 0;
	r->next = idx + 1;
	return idx;
}

/* Puts back the entry tm_take_reserved() gave, unused (after the bucket's
 * lock: this makes a helper call). Only this CPU takes from its reserve,
 * and nothing it took since is in use, so its last entry is this one. */
static __always_inline void tm_untake_reserved(__u32 idx)
{
	__u32 zero = 0;
	struct tm_flow_reserve *r = bpf_map_lookup_elem(&tm_flow_reserve, &zero);

	if (r && r->next == idx + 1)
		r->next = idx;
}

/* Whether a way of the group of n from first has no entry yet (read
 * without the lock: a hint of whether a write will need a fresh one). */
static __always_inline int tm_lacks_entry(struct tm_flow_bucket *b, const int first, const int n)
{
	int i, none = 0;

#pragma unroll
	for (i = first; i < first + n; i++)
		none |= TM_READ_ONCE(b->entry[i]) == 0;
	return none;
}

/* Writes a flow into the way `at` of the group of n from first, into the
 * way's entry or, if it has none, the reserved one (fresh, at fresh_idx; 0:
 * none): 0 if neither exists, 1 if written, 2 if written into fresh.
 * Constant indexes, as everywhere in a bucket (see tm_find_way). */
static __always_inline int tm_write_way(struct tm_flow_bucket *b, const struct tm_ways *ws,
					const int first, const int n, int at, __u32 tag,
					const __u64 w[5], const struct tm_flow_value *v,
					__u8 recent, struct tm_flow_entry *fresh, __u32 fresh_idx)
{
	struct tm_flow_entry *e;
	int i, written = 0;

#pragma unroll
	for (i = first; i < first + n; i++) {
		if (!tm_is(at, i))
			continue;
		e = ws->e[i];
		written = 1;
		if (!ws->idx[i]) {
			if (!fresh_idx)
				return 0;
			e = fresh;
			b->entry[i] = fresh_idx;
			written = 2;
		}
		__builtin_memcpy(&e->key, w, sizeof(e->key));
		__builtin_memcpy(&e->value, v, sizeof(*v));
		b->tag[i] = tag;
		b->recent[i] = recent;
	}
	return written;
}

/* A one-way flow's first answer: the flow in way `from` (one-way) moves to
 * way `to` (two-way) with its new value, their entries swap places, and
 * `from` is left empty with what `to` had. */
static __always_inline void tm_move_way(struct tm_flow_bucket *b, const struct tm_ways *ws,
					int from, int to, __u32 tag, const struct tm_flow_value *v)
{
	struct tm_flow_entry *e;
	int i, j;

#pragma unroll
	for (j = TM_FLOW_WAYS; j < TM_FLOW_SLOTS; j++) {
		if (!tm_is(from, j))
			continue;
		e = ws->e[j];
		__builtin_memcpy(&e->value, v, sizeof(*v));
#pragma unroll
		for (i = 0; i < TM_FLOW_WAYS; i++) {
			if (!tm_is(to, i))
				continue;
			b->entry[j] = ws->idx[i];
			b->entry[i] = ws->idx[j];
			b->tag[i] = tag;
			b->recent[i] = 1;
			b->tag[j] = 0;
		}
	}
}

enum tm_store {
	TM_STORE_NEW,	 /* a flow the read did not find: insert it unless another CPU did */
	TM_STORE_MOVE,	 /* its first answer: into a two-way way */
	TM_STORE_UPDATE, /* a new originator or new rules, in place */
};

/*
 * The one writer of the table: under the bucket's lock, with seq odd. What
 * the read saw may have changed since (another CPU inserted, moved or
 * evicted the flow), so the flow is looked up again first. v ends as what
 * the table holds, which is what the packet counts with: a flow another
 * CPU inserted first keeps its originator. A flow the table cannot take
 * (the pool all handed out, or its ways changing under two attempts) is
 * counted in flow_insert_failed; its next packet tries again.
 */
static __always_inline void tm_store_flow(struct tm_flow_bucket *b, __u32 tag, const __u64 w[5],
					  struct tm_flow_value *v, struct tm_scratch *s,
					  enum tm_store what, struct tm_ways *ws,
					  struct tm_stats *stats)
{
	struct tm_flow_value *seen = &s->fseen;
	struct tm_flow_entry *fresh;
	__u32 fresh_idx = 0;
	int slot, i, stored = 1;

	/* A new flow goes to a one-way way, a moving one to a two-way way
	 * (only written into if the flow was evicted meanwhile). */
	if ((what == TM_STORE_NEW && tm_lacks_entry(b, TM_FLOW_WAYS, TM_FLOW_NEW_WAYS)) ||
	    (what == TM_STORE_MOVE && tm_lacks_entry(b, 0, TM_FLOW_WAYS)))
		fresh_idx = tm_take_reserved();
	/* Never NULL, like the ways' entries (entry 0 when there is none):
	 * whether there is one is the scalar fresh_idx, which the 5.10 and
	 * 6.1 verifiers follow where they lost a NULL pointer's check. */
	fresh = bpf_map_lookup_elem(&tm_flow_pool, &fresh_idx);
	if (!fresh || !tm_lock_ways(b, ws)) {
		if (fresh_idx)
			tm_untake_reserved(fresh_idx);
		stats->flow_insert_failed++;
		return;
	}
	b->seq++;
	tm_forget();
	slot = tm_find_way(b, ws, tag, w, seen);
	slot = tm_opaque_way(slot, &s->way);
	if (what == TM_STORE_NEW && slot >= 0) {
		__builtin_memcpy(v, seen, sizeof(*v));
	} else if (what == TM_STORE_UPDATE || (slot >= 0 && slot < TM_FLOW_WAYS)) {
		/* In place; a flow evicted meanwhile is not brought back. */
#pragma unroll
		for (i = 0; i < TM_FLOW_SLOTS; i++)
			if (tm_is(slot, i))
				__builtin_memcpy(&ws->e[i]->value, v, sizeof(*v));
	} else if (what == TM_STORE_NEW) {
		i = tm_victim(b, TM_FLOW_WAYS, TM_FLOW_NEW_WAYS, tag, &s->way);
		stored = tm_write_way(b, ws, TM_FLOW_WAYS, TM_FLOW_NEW_WAYS, i, tag, w, v, 0, fresh,
				      fresh_idx);
	} else if (slot < 0) { /* a first answer whose flow was evicted meanwhile */
		i = tm_victim(b, 0, TM_FLOW_WAYS, tag, &s->way);
		stored = tm_write_way(b, ws, 0, TM_FLOW_WAYS, i, tag, w, v, 1, fresh, fresh_idx);
	} else {
		i = tm_victim(b, 0, TM_FLOW_WAYS, tag, &s->way);
		tm_move_way(b, ws, slot, i, tag, v);
	}
	tm_forget();
	b->seq++;
	bpf_spin_unlock(&b->lock);
	if (fresh_idx && stored != 2)
		tm_untake_reserved(fresh_idx);
	if (!stored)
		stats->flow_insert_failed++;
}

/* The bucket and tag of the key whose words are w. */
static __always_inline struct tm_flow_bucket *tm_bucket_of(const __u64 w[5], __u32 *tag)
{
	/* Read once: each read of a const volatile is a load in the JIT's code. */
	__u32 shift = tm_flow_bucket_shift_by;
	__u64 h;
	__u32 idx;

	h = tm_flow_hash(w);
	if (shift)
		idx = h >> shift;
	else
		idx = tm_flow_bucket_index(h, tm_flow_buckets);
	*tag = tm_flow_tag(h);
	return bpf_map_lookup_elem(&tm_flow_table, &idx);
}

/*
 * The flow of the packet whose key is s->fkey (its words: w), created or
 * moved as needed, with its rules resolved at rules_gen, as a copy in
 * s->fval. A flow is born in a one-way way and moves to a two-way way with
 * the first packet its originator did not send.
 */
static __always_inline struct tm_flow_value *tm_flow_of(struct tm_scratch *s, const __u64 w[5],
							__u8 sender, int syn, __u32 rules_gen,
							struct tm_stats *stats)
{
	const struct tm_flow_key *k = &s->fkey;
	struct tm_flow_value *v = &s->fval;
	struct tm_flow_bucket *b;
	enum tm_store what = TM_STORE_UPDATE;
	struct tm_ways ws;
	int slot, changed = 0;
	__u32 tag;

	b = tm_bucket_of(w, &tag);
	/* Tested once, before the read: when the NULL bucket joined the
	 * "not found" path and was tested again there, the 5.10 and 6.1
	 * verifiers took the bucket for a scalar at bpf_spin_lock. */
	if (!b) { /* a table smaller than this program was told: cannot keep it */
		tm_new_flow(s, v, k, syn >= 0 ? syn : sender, rules_gen);
		stats->flow_insert_failed++;
		return v;
	}
	slot = tm_read_flow(b, tag, w, v, &ws);
	slot = tm_opaque_way(slot, &s->way);
	if (slot == TM_FLOW_BUSY) {
		tm_new_flow(s, v, k, syn >= 0 ? syn : sender, rules_gen);
		stats->flow_insert_failed++;
		return v;
	}
	if (slot < 0) {
		tm_new_flow(s, v, k, syn >= 0 ? syn : sender, rules_gen);
		what = TM_STORE_NEW;
	} else {
		if (syn >= 0 && v->originator != syn) {
			v->originator = syn; /* a new connection on a reused 5-tuple */
			changed = 1;
		}
		if (v->rules_gen != rules_gen) {
			tm_resolve(s, v, k, rules_gen);
			changed = 1;
		}
		if (slot >= TM_FLOW_WAYS && sender != v->originator)
			what = TM_STORE_MOVE; /* the first answer */
		else if (!changed)
			return v;
	}
	tm_store_flow(b, tag, w, v, s, what, &ws, stats);
	return v;
}

/* Counts a packet in its flow's direction; returns 1 if a rule was added to. */
static __always_inline int tm_count_flow(struct tm_scratch *s, __u32 rules_gen,
					 struct tm_stats *stats)
{
	const struct tm_packet *p = &s->p;
	struct tm_flow_value *fv;
	__u64 w[5];
	__u8 sender = tm_flow_key_of(&p->t, p->family, &s->fkey, w);

	fv = tm_flow_of(s, w, sender, tm_syn_originator(p->tcp_flags, sender), rules_gen, stats);
	if (sender)
		return tm_add_pair(s, &fv->rule[1], &fv->rule[0], fv->originator == 1, p->packets,
				   p->bytes);
	return tm_add_pair(s, &fv->rule[0], &fv->rule[1], fv->originator == 0, p->packets,
			   p->bytes);
}

/* ICMP errors count in the flow they quote, towards the quoted packet's
 * sender; their rules are those of their own addresses (a router that sends
 * "time exceeded" is no endpoint of the flow), so nothing is cached. */
static __always_inline int tm_count_icmp_error(struct tm_scratch *s)
{
	const struct tm_packet *p = &s->p;
	struct tm_flow_bucket *b;
	struct tm_ways ws;
	__u8 quoted_sender, originator;
	__u64 w[5];
	__u32 tag;

	quoted_sender = tm_flow_key_of(&p->inner, p->family, &s->fkey, w);
	b = tm_bucket_of(w, &tag);
	/* Unknown flow: the quoted packet was its first, so its sender originated it. */
	originator = b && tm_read_flow(b, tag, w, &s->fval, &ws) >= 0 ? s->fval.originator
								       : quoted_sender;
	s->ref[0] = tm_match_rule(s, p->family, p->t.saddr);
	s->ref[1] = tm_match_rule(s, p->family, p->t.daddr);
	return tm_add_pair(s, &s->ref[0], &s->ref[1], quoted_sender != originator, p->packets,
			   p->bytes);
}

static __always_inline void tm_frag_key_of(const struct tm_packet *p, struct tm_frag_key *k)
{
	__builtin_memcpy(k->saddr, p->t.saddr, 16);
	__builtin_memcpy(k->daddr, p->t.daddr, 16);
	k->id = p->frag_id;
	/* RFC 8200 names a datagram by addresses and id alone; and a later
	 * fragment's next header may be AH or options, not the transport. */
	k->proto = p->family == TM_FAMILY_IPV4 ? p->t.proto : 0;
	k->family = p->family;
	k->pad = 0;
}

/* First fragments teach the table their ports; later ones borrow them. */
static __always_inline void tm_track_fragment(struct tm_scratch *s)
{
	struct tm_packet *p = &s->p;
	struct tm_frag_value *known;

	if (p->frag == TM_FRAG_NONE)
		return;
	tm_frag_key_of(p, &s->frag_key);
	if (p->frag == TM_FRAG_FIRST) {
		if (!p->has_ports)
			return;
		__builtin_memset(&s->frag_val, 0, sizeof(s->frag_val));
		s->frag_val.sport = p->t.sport;
		s->frag_val.dport = p->t.dport;
		s->frag_val.proto = p->t.proto;
		bpf_map_update_elem(&tm_frags, &s->frag_key, &s->frag_val, BPF_ANY);
		return;
	}
	known = bpf_map_lookup_elem(&tm_frags, &s->frag_key);
	if (!known)
		return;
	p->t.sport = known->sport;
	p->t.dport = known->dport;
	p->t.proto = known->proto;
	p->has_ports = 1;
}

#endif
