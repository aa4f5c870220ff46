// An IPv4 or IPv6 prefix as the user writes it and as the maps store it.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tmeter {

struct Cidr {
	uint8_t family = 0; // TM_FAMILY_IPV4 or TM_FAMILY_IPV6
	uint8_t prefixlen = 0;
	std::array<uint8_t, 16> addr{}; // network byte order; IPv4 in addr[0..3]

	// IPv4 first, then address, then prefix length: SPEC §4's row order
	// (not the member order, which puts prefixlen before addr).
	// The address as two big-endian words: sorting a million rules is
	// mostly this comparison, and a memcmp call per compare doubled it.
	std::strong_ordering operator<=>(const Cidr &o) const
	{
		if (auto c = family <=> o.family; c != 0)
			return c;
		if (auto c = word(0) <=> o.word(0); c != 0)
			return c;
		if (auto c = word(1) <=> o.word(1); c != 0)
			return c;
		return prefixlen <=> o.prefixlen;
	}
	bool operator==(const Cidr &) const = default;

	uint64_t word(int i) const
	{
		uint64_t w;
		std::memcpy(&w, addr.data() + 8 * i, 8);
		return __builtin_bswap64(w);
	}

	unsigned max_prefixlen() const;
	std::string str() const; // canonical: RFC 5952 for IPv6, "/P" always
	std::string_view family_name() const; // "ipv4" or "ipv6"
};

// Parses "A.B.C.D[/P]" or an IPv6 address with optional "/P". A bare
// address is a host route. Throws a usage Error naming the input and, for
// host bits set, suggesting the network address.
Cidr parse_cidr(std::string_view text);

// Non-throwing variant for validating many inputs: empty string on success,
// otherwise the error line.
std::string validate_cidr(std::string_view text, Cidr *out);

} // namespace tmeter
