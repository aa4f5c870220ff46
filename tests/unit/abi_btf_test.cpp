// The ABI header as the C++ compiler sees it, against the BTF of the BPF
// object as clang built it: every struct's size and every member's offset.
#include <gtest/gtest.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "traffic_meter_kern_user.h"

namespace {

const char *g_object_path = nullptr;

struct Member {
	std::string name;
	size_t offset;
	size_t size;
};

struct Layout {
	std::string name;
	size_t size;
	std::vector<Member> members;
};

#define M(type, field) Member{#field, offsetof(type, field), sizeof(((type *)nullptr)->field)}

const std::vector<Layout> &layouts()
{
	static const std::vector<Layout> all = {
		{"tm_lpm_v4_key", sizeof(tm_lpm_v4_key), {M(tm_lpm_v4_key, prefixlen), M(tm_lpm_v4_key, addr)}},
		{"tm_lpm_v6_key", sizeof(tm_lpm_v6_key), {M(tm_lpm_v6_key, prefixlen), M(tm_lpm_v6_key, addr)}},
		{"tm_rule_ref", sizeof(tm_rule_ref), {M(tm_rule_ref, slot), M(tm_rule_ref, serial)}},
		{"tm_rule_slot",
		 sizeof(tm_rule_slot),
		 {M(tm_rule_slot, serial), M(tm_rule_slot, family), M(tm_rule_slot, prefixlen),
		  M(tm_rule_slot, pad), M(tm_rule_slot, added), M(tm_rule_slot, deleted),
		  M(tm_rule_slot, addr), M(tm_rule_slot, carried), M(tm_rule_slot, adjust)}},
		{"tm_counters",
		 sizeof(tm_counters),
		 {M(tm_counters, serial), M(tm_counters, pad), M(tm_counters, up_packets),
		  M(tm_counters, up_bytes), M(tm_counters, down_packets), M(tm_counters, down_bytes)}},
		{"tm_config",
		 sizeof(tm_config),
		 {M(tm_config, magic), M(tm_config, abi_version), M(tm_config, rules_gen),
		  M(tm_config, committed), M(tm_config, pending), M(tm_config, rewrite_seq),
		  M(tm_config, max_rules), M(tm_config, max_flows), M(tm_config, next_serial),
		  M(tm_config, next_slot), M(tm_config, maps_gen), M(tm_config, resize_gen),
		  M(tm_config, flags), M(tm_config, netns_dev), M(tm_config, netns_ino),
		  M(tm_config, instance_id), M(tm_config, created_at), M(tm_config, uppers_at),
		  M(tm_config, restored), M(tm_config, slots_used), M(tm_config, pad)}},
		{"tm_flow_key",
		 sizeof(tm_flow_key),
		 {M(tm_flow_key, addr), M(tm_flow_key, port), M(tm_flow_key, proto), M(tm_flow_key, family),
		  M(tm_flow_key, pad)}},
		{"tm_flow_value",
		 sizeof(tm_flow_value),
		 {M(tm_flow_value, rules_gen), M(tm_flow_value, originator), M(tm_flow_value, pad),
		  M(tm_flow_value, rule)}},
		{"tm_flow_entry", sizeof(tm_flow_entry), {M(tm_flow_entry, key), M(tm_flow_entry, value)}},
		{"tm_flow_bucket",
		 sizeof(tm_flow_bucket),
		 {M(tm_flow_bucket, lock), M(tm_flow_bucket, seq), M(tm_flow_bucket, tag),
		  M(tm_flow_bucket, entry), M(tm_flow_bucket, recent), M(tm_flow_bucket, pad)}},
		{"tm_flow_alloc", sizeof(tm_flow_alloc), {M(tm_flow_alloc, lock), M(tm_flow_alloc, used)}},
		{"tm_flow_reserve", sizeof(tm_flow_reserve), {M(tm_flow_reserve, next), M(tm_flow_reserve, end)}},
		{"tm_frag_key",
		 sizeof(tm_frag_key),
		 {M(tm_frag_key, saddr), M(tm_frag_key, daddr), M(tm_frag_key, id), M(tm_frag_key, proto),
		  M(tm_frag_key, family), M(tm_frag_key, pad)}},
		{"tm_frag_value",
		 sizeof(tm_frag_value),
		 {M(tm_frag_value, sport), M(tm_frag_value, dport), M(tm_frag_value, proto),
		  M(tm_frag_value, pad)}},
		{"tm_iface",
		 sizeof(tm_iface),
		 {M(tm_iface, role), M(tm_iface, link_kind), M(tm_iface, attach_mode),
		  M(tm_iface, tc_priority), M(tm_iface, tc_handle), M(tm_iface, prog_id),
		  M(tm_iface, flags), M(tm_iface, maps_gen), M(tm_iface, pad), M(tm_iface, prog_tag),
		  M(tm_iface, since), M(tm_iface, name)}},
		{"tm_percpu",
		 sizeof(tm_percpu),
		 {M(tm_percpu, stats), M(tm_percpu, ingress_sig), M(tm_percpu, scratch)}},
		{"tm_stats",
		 sizeof(tm_stats),
		 {M(tm_stats, packets), M(tm_stats, bytes), M(tm_stats, egress_skipped), M(tm_stats, not_ip),
		  M(tm_stats, malformed), M(tm_stats, no_rule), M(tm_stats, counted),
		  M(tm_stats, flow_insert_failed), M(tm_stats, paged), M(tm_stats, gso_from_size)}},
	};
	return all;
}

#undef M

class AbiBtf : public ::testing::TestWithParam<Layout> {
protected:
	static void SetUpTestSuite()
	{
		ASSERT_NE(g_object_path, nullptr) << "pass the BPF object path as the first argument";
		btf_ = btf__parse_elf(g_object_path, nullptr);
		ASSERT_NE(btf_, nullptr) << "cannot read BTF from " << g_object_path;
	}
	static void TearDownTestSuite()
	{
		btf__free(btf_);
		btf_ = nullptr;
	}
	static btf *btf_;
};

btf *AbiBtf::btf_ = nullptr;

TEST_P(AbiBtf, SizeAndOffsetsMatch)
{
	ASSERT_NE(btf_, nullptr);
	const Layout &l = GetParam();
	int id = btf__find_by_name_kind(btf_, l.name.c_str(), BTF_KIND_STRUCT);
	ASSERT_GT(id, 0) << "struct " << l.name << " is not in the object's BTF";
	const btf_type *t = btf__type_by_id(btf_, id);
	EXPECT_EQ(t->size, l.size) << "sizeof(struct " << l.name << ")";

	std::map<std::string, std::pair<size_t, size_t>> found; // offset, size
	const btf_member *m = btf_members(t);
	for (unsigned i = 0; i < btf_vlen(t); ++i, ++m) {
		ASSERT_EQ(btf_member_bitfield_size(t, i), 0u) << l.name << ": bitfields are not ABI";
		size_t bits = btf_member_bit_offset(t, i);
		ASSERT_EQ(bits % 8, 0u);
		long msize = btf__resolve_size(btf_, m->type);
		ASSERT_GE(msize, 0);
		found[btf__name_by_offset(btf_, m->name_off)] = {bits / 8, static_cast<size_t>(msize)};
	}
	EXPECT_EQ(found.size(), l.members.size()) << l.name << ": member count";
	for (const auto &mem : l.members) {
		auto it = found.find(mem.name);
		ASSERT_NE(it, found.end()) << l.name << "." << mem.name << " missing in BTF";
		EXPECT_EQ(it->second.first, mem.offset) << "offsetof(" << l.name << ", " << mem.name << ")";
		EXPECT_EQ(it->second.second, mem.size) << "sizeof(" << l.name << "." << mem.name << ")";
	}
}

INSTANTIATE_TEST_SUITE_P(Structs, AbiBtf, ::testing::ValuesIn(layouts()),
			 [](const ::testing::TestParamInfo<Layout> &info) { return info.param.name; });

TEST(AbiVersion, IsPositive) { EXPECT_GT(TM_ABI_VERSION, 0); }

} // namespace

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	if (argc > 1)
		g_object_path = argv[1];
	return RUN_ALL_TESTS();
}
