// The C++ side's check of the ABI header: if the compiler lays a struct out
// differently from what the BPF program expects, the build fails here.
// tests/unit compare the same figures with the object's BTF.
#include <cstddef>

#include "traffic_meter_kern_user.h"

static_assert(sizeof(tm_lpm_v4_key) == 8);
static_assert(sizeof(tm_lpm_v6_key) == 20);
static_assert(sizeof(tm_rule_ref) == 8);
static_assert(sizeof(tm_rule_slot) == 24);
static_assert(offsetof(tm_rule_slot, addr) == 8);
static_assert(sizeof(tm_counters) == 40 && sizeof(tm_counters) % 8 == 0);
static_assert(offsetof(tm_counters, up_packets) == 8);
static_assert(sizeof(tm_config) == 32);
static_assert(sizeof(tm_flow_key) == 40);
static_assert(offsetof(tm_flow_key, port) == 32 && offsetof(tm_flow_key, proto) == 36);
static_assert(sizeof(tm_flow_value) == 32);
static_assert(offsetof(tm_flow_value, originator) == 24);
static_assert(sizeof(tm_flow_cache_entry) == 80);
static_assert(offsetof(tm_flow_cache_entry, value) == 40 && offsetof(tm_flow_cache_entry, epoch) == 72);
static_assert(sizeof(tm_frag_key) == 40);
static_assert(sizeof(tm_frag_value) == 4);
static_assert(sizeof(tm_attached_iface) == 16);
static_assert(sizeof(tm_stats) == 64);
