// RuleStore's journal and baselines (docs/DESIGN.md, "Rule changes"), on
// the real maps: a reset or a slot's reuse never rewrites counters the data
// plane may be adding to; a change a killed writer left half done is
// invisible to readers and rolled back by recover().
#include <gtest/gtest.h>
#include <bpf/bpf.h>

#include <algorithm>

#include <fmt/format.h>

#include "dataplane_fixture.h"
#include "rules/rule_store.h"

namespace tmeter::dptest {
namespace {

const Addr A = ip("198.18.0.10"), B = ip("198.19.1.1");
const Prefix kA = prefix("198.18.0.10/32");

Cidr cidr(const char *text) { return parse_cidr(text); }

class RuleJournal : public ::testing::Test {
protected:
	void SetUp() override
	{
		dp().reset();
		dp().add({kA});
	}
	static Dataplane &dp() { return Dataplane::shared(); }
	void udp(size_t payload)
	{
		ASSERT_EQ(dp().run({.frame = PacketBuilder().eth().ipv4(A, B).udp(1, 2).payload(payload).build()}),
			  kTcActUnspec);
	}
	// What the kernel holds for the rule, summed over the CPUs.
	uint64_t kernel_up_bytes()
	{
		for (const auto &r : RuleStore(dp().maps()).counters(Figures::kKernel))
			if (r.cidr == cidr("198.18.0.10/32"))
				return r.up_bytes;
		return ~0ull;
	}
};

// reset moves what `show` prints to zero by a baseline: the counters the
// data plane adds to are untouched, so a packet racing the reset cannot
// undo it, and the exporter's counter only goes up.
TEST_F(RuleJournal, ResetKeepsTheKernelCounters)
{
	udp(100); // 128 B
	RuleStore(dp().maps()).reset(std::nullopt);
	EXPECT_EQ(dp().counters(kA), Counters{});
	EXPECT_EQ(kernel_up_bytes(), 128u);
	udp(0); // 28 B
	EXPECT_EQ(dp().counters(kA), (Counters{.up_packets = 1, .up_bytes = 28}));
	EXPECT_EQ(kernel_up_bytes(), 156u);
}

// Readers and large changes read the slot table only up to its high-water
// mark (tm_config.slots_used). A large change that starts inside a
// partly-used window and allocates past the mark, then a small one, then a
// delete: every rule is seen, counted, and the mark follows the slots.
TEST_F(RuleJournal, ChangesPastTheHighWaterMark)
{
	Dataplane d(Dataplane::Options{.max_rules = 20000, .max_flows = 64});
	RuleStore store(d.maps());
	auto batch = [](uint32_t first, uint32_t n) {
		RuleChange c;
		for (uint32_t i = first; i < first + n; ++i)
			c.add.push_back(parse_cidr(fmt::format("10.{}.{}.0/24", i / 256, i % 256)));
		return c;
	};
	store.apply(batch(0, 5000)); // > 4096: reads the whole (used) table
	EXPECT_EQ(d.maps().read_config().slots_used, 5000u);
	store.apply(batch(5000, 5000)); // starts inside window 4 (4096..5119)
	EXPECT_EQ(d.maps().read_config().slots_used, 10000u);
	store.apply(batch(10000, 1));
	EXPECT_EQ(d.maps().read_config().slots_used, 10001u);
	auto rows = store.counters();
	ASSERT_EQ(rows.size(), 10001u);
	RuleChange del;
	del.del.push_back(parse_cidr("10.39.16.0/24")); // rule 10000, the last slot
	store.apply(del);
	EXPECT_EQ(store.rules().size(), 10000u);
	// The rule in the highest used slot counts and is read back.
	d.add({prefix("198.18.0.0/24")});
	ASSERT_EQ(d.run({.frame = PacketBuilder().eth().ipv4(A, B).udp(1, 2).payload(100).build()}),
		  kTcActUnspec);
	EXPECT_EQ(d.counters(prefix("198.18.0.0/24")), (Counters{.up_packets = 1, .up_bytes = 128}));
	EXPECT_EQ(store.counters().size(), 10001u);
}

// A deleted rule's slot, reused by a new rule, still holds the old counts
// (a flow that cached the old rule may add to it at that very moment): the
// new rule carries them as a negative baseline and starts at 0, in `show`
// and in the exporter's figures.
TEST_F(RuleJournal, ReusedSlotStartsAtZero)
{
	Dataplane small(Dataplane::Options{.max_rules = 1, .max_flows = 64});
	small.add({kA});
	ASSERT_EQ(small.run({.frame = PacketBuilder().eth().ipv4(A, B).udp(1, 2).payload(100).build()}),
		  kTcActUnspec);
	small.del({kA});
	small.add({prefix("198.18.0.0/24")}); // the only slot: kA's
	auto rows = RuleStore(small.maps()).counters(Figures::kKernel);
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0].up_bytes, 0u);
	EXPECT_EQ(small.counters(prefix("198.18.0.0/24")), Counters{});
}

// A change killed after its journal entry and some of its writes: readers
// see the committed set only; recover() rolls it back.
TEST_F(RuleJournal, HalfDoneChangeIsInvisibleAndRolledBack)
{
	const MapSet &maps = dp().maps();
	tm_config cfg = maps.read_config();
	const uint32_t id = cfg.committed + 1;
	// As apply() would leave it when killed: kA marked deleted, a new rule
	// in slot 5 with its trie entry, neither committed.
	uint32_t slot_a = 0;
	for (const auto &e : RuleStore(maps).rules())
		slot_a = e.slot;
	tm_rule_slot a{};
	ASSERT_EQ(bpf_map_lookup_elem(maps.rule_slots.get(), &slot_a, &a), 0);
	a.deleted = id;
	ASSERT_EQ(bpf_map_update_elem(maps.rule_slots.get(), &slot_a, &a, BPF_ANY), 0);
	tm_lpm_v4_key ka{32, {198, 18, 0, 10}};
	ASSERT_EQ(bpf_map_delete_elem(maps.rules_v4.get(), &ka), 0);
	uint32_t slot_new = 5;
	tm_rule_slot n = slot_of(cidr("198.19.0.0/16"), 777, id);
	ASSERT_EQ(bpf_map_update_elem(maps.rule_slots.get(), &slot_new, &n, BPF_ANY), 0);
	tm_lpm_v4_key kn{16, {198, 19, 0, 0}};
	tm_rule_ref ref{slot_new, 777};
	ASSERT_EQ(bpf_map_update_elem(maps.rules_v4.get(), &kn, &ref, BPF_ANY), 0);
	cfg.pending = id;
	cfg.slots_used = std::max(cfg.slots_used, slot_new + 1); // raised with the journal entry
	maps.write_config(cfg);

	auto seen = RuleStore(maps).rules();
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].cidr, cidr("198.18.0.10/32")) << "readers see the committed set";

	EXPECT_TRUE(RuleStore(maps).recover());
	EXPECT_EQ(maps.read_config().pending, 0u);
	seen = RuleStore(maps).rules();
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].cidr, cidr("198.18.0.10/32"));
	tm_rule_ref back{};
	EXPECT_EQ(bpf_map_lookup_elem(maps.rules_v4.get(), &ka, &back), 0) << "kA's trie entry is back";
	EXPECT_NE(bpf_map_lookup_elem(maps.rules_v4.get(), &kn, &back), 0) << "the new rule is gone";
	udp(100);
	EXPECT_EQ(dp().counters(kA), (Counters{.up_packets = 1, .up_bytes = 128}));
	EXPECT_FALSE(RuleStore(maps).recover()) << "nothing left to recover";
}

} // namespace
} // namespace tmeter::dptest
