#include "rules/cidr.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

#include "traffic_meter_kern_user.h"
#include "util/error.h"

namespace tmeter {

unsigned Cidr::max_prefixlen() const { return family == TM_FAMILY_IPV4 ? 32 : 128; }

std::string_view Cidr::family_name() const { return family == TM_FAMILY_IPV4 ? "ipv4" : "ipv6"; }

std::string Cidr::str() const
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family == TM_FAMILY_IPV4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf));
	return fmt::format("{}/{}", buf, prefixlen);
}

namespace {

// The input as it may appear in a one-line message: control characters
// (a newline from a JSON string, a NUL) escaped, very long input cut.
std::string printable(std::string_view text)
{
	constexpr size_t kMax = 64;
	std::string out;
	for (char ch : text.substr(0, kMax)) {
		auto u = static_cast<unsigned char>(ch);
		if (u < 0x20 || u == 0x7f)
			out += fmt::format("\\x{:02x}", u);
		else
			out += ch;
	}
	if (text.size() > kMax)
		out += "...";
	return out;
}

} // namespace

std::string validate_cidr(std::string_view raw, Cidr *out)
{
	if (std::string shown = printable(raw); shown != raw) // never an address
		return fmt::format("invalid IP address '{}': expected A.B.C.D[/P] or an IPv6 "
				   "address[/P]",
				   shown);
	const std::string_view text = raw;
	Cidr c;
	std::string_view addr_part = text, len_part;
	bool has_len = false;

	if (auto slash = text.find('/'); slash != std::string_view::npos) {
		addr_part = text.substr(0, slash);
		len_part = text.substr(slash + 1);
		has_len = true;
	}
	std::string addr_str(addr_part);
	if (addr_str.find(':') != std::string::npos) {
		c.family = TM_FAMILY_IPV6;
		if (inet_pton(AF_INET6, addr_str.c_str(), c.addr.data()) != 1)
			return fmt::format("invalid IPv6 address '{}'", text);
	} else {
		c.family = TM_FAMILY_IPV4;
		if (inet_pton(AF_INET, addr_str.c_str(), c.addr.data()) != 1)
			return fmt::format("invalid IP address '{}': expected A.B.C.D[/P] or an IPv6 "
					   "address[/P]",
					   text);
	}
	c.prefixlen = c.max_prefixlen();
	if (has_len) {
		unsigned len = 0;
		auto [end, ec] = std::from_chars(len_part.data(), len_part.data() + len_part.size(), len);
		if (len_part.empty() || ec != std::errc() || end != len_part.data() + len_part.size() ||
		    len > c.max_prefixlen() || (len_part.size() > 1 && len_part[0] == '0'))
			return fmt::format("invalid prefix length in '{}': expected 0 to {}", text,
					   c.max_prefixlen());
		c.prefixlen = static_cast<uint8_t>(len);
	}
	Cidr network = c;
	for (unsigned bit = c.prefixlen; bit < c.max_prefixlen(); ++bit)
		network.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
	if (network.addr != c.addr)
		return fmt::format("host bits set in '{}': did you mean {}?", text, network.str());
	if (out)
		*out = c;
	return {};
}

Cidr parse_cidr(std::string_view text)
{
	Cidr c;
	if (auto err = validate_cidr(text, &c); !err.empty())
		fail_usage(err);
	return c;
}

} // namespace tmeter
