// The C++ side's check of the ABI header: if the compiler lays a struct out
// differently from what the BPF program expects, the build fails here.
// tests/unit compare the same figures with the object's BTF.
#include <cstddef>

#include "traffic_meter_kern_user.h"

static_assert(sizeof(tm_lpm_v4_key) == 8);
static_assert(sizeof(tm_lpm_v6_key) == 20);
static_assert(sizeof(tm_rule_ref) == 8);
static_assert(sizeof(tm_rule_slot) == 96);
// added and deleted share one aligned 8-byte word: a reader racing a write
// sees both old or both new (tm_rule_slot).
static_assert(offsetof(tm_rule_slot, added) == 8 && offsetof(tm_rule_slot, deleted) == 12);
static_assert(offsetof(tm_rule_slot, addr) == 16 && offsetof(tm_rule_slot, carried) == 32);
static_assert(offsetof(tm_rule_slot, adjust) == 64);
static_assert(sizeof(tm_counters) == 40 && sizeof(tm_counters) % 8 == 0);
static_assert(offsetof(tm_counters, up_packets) == 8);
static_assert(sizeof(tm_config) == 112);
static_assert(offsetof(tm_config, rules_gen) == 12 && offsetof(tm_config, netns_dev) == 56);
static_assert(sizeof(tm_flow_key) == 40);
static_assert(offsetof(tm_flow_key, port) == 32 && offsetof(tm_flow_key, proto) == 36);
static_assert(sizeof(tm_flow_value) == 24);
static_assert(offsetof(tm_flow_value, originator) == 4 && offsetof(tm_flow_value, rule) == 8);
static_assert(sizeof(tm_flow_entry) == 64 && offsetof(tm_flow_entry, value) == 40);
static_assert(sizeof(tm_flow_bucket) == 64); // a bucket head is one cache line
static_assert(offsetof(tm_flow_bucket, entry) == 32 && offsetof(tm_flow_bucket, recent) == 56);
static_assert(sizeof(tm_flow_alloc) == 8 && sizeof(tm_flow_reserve) == 8);
static_assert(sizeof(tm_frag_key) == 40);
static_assert(sizeof(tm_frag_value) == 8);
static_assert(sizeof(tm_iface) == 80);
// tm_roles: every role fits its bits, the bits fill a __u64 word.
static_assert(TM_ROLE_BITS * TM_ROLES_PER_WORD == 64);
static_assert(TM_ROLE_UPPER_PARTIAL < (1 << TM_ROLE_BITS));
static_assert(offsetof(tm_iface, prog_tag) == 40 && offsetof(tm_iface, since) == 56);
static_assert(sizeof(tm_stats) == 80);
static_assert(sizeof(tm_percpu) == 80 + 8 + TM_SCRATCH_BYTES);
