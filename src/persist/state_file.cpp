#include "persist/state_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/fd.h"

namespace tmeter {
namespace {

constexpr const char *kFormat = "traffic_meter-state";
constexpr const char *kChecksumKey = "\"checksum\": \"crc32:";

std::string crc32_hex(std::string_view bytes)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, reinterpret_cast<const Bytef *>(bytes.data()), uInt(bytes.size()));
	return fmt::format("{:08x}", crc);
}

uint64_t number(const nlohmann::json &row, const char *key, const std::string &where)
{
	auto it = row.find(key);
	if (it == row.end() || !it->is_number_unsigned())
		fail_usage(fmt::format("{}: \"{}\" missing or not a count", where, key));
	return it->get<uint64_t>();
}

} // namespace

SavedState snapshot_state(const State &state)
{
	SavedState s;
	s.saved_at = utc_now_iso8601();
	s.boot_id = current_boot_id();
	s.instance_id = state.config().instance_id;
	s.rules = RuleStore(state.maps()).counters(Figures::kShown);
	return s;
}

std::string render_state_file(const SavedState &s)
{
	std::string out;
	out.reserve(s.rules.size() * 120 + 256);
	fmt::format_to(std::back_inserter(out),
		       "{{\"format\": \"{}\", \"version\": {}, \"saved_at\": \"{}\", \"boot_id\": "
		       "\"{}\", \"instance_id\": \"{:016x}\",\n\"rules\": [",
		       kFormat, kStateFileVersion, s.saved_at, s.boot_id, s.instance_id);
	for (size_t i = 0; i < s.rules.size(); ++i) {
		const RuleCounters &r = s.rules[i];
		fmt::format_to(std::back_inserter(out),
			       "{}\n{{\"rule\": \"{}\", \"up_bytes\": {}, \"up_packets\": {}, "
			       "\"down_bytes\": {}, \"down_packets\": {}}}",
			       i ? "," : "", r.cidr.str(), r.up_bytes, r.up_packets, r.down_bytes,
			       r.down_packets);
	}
	out += "\n],\n";
	const std::string crc = crc32_hex(out);
	out += fmt::format("{}{}\"}}\n", kChecksumKey, crc);
	return out;
}

SavedState parse_state_file(const std::string &text, const std::string &name)
{
	// The checksum covers every byte before its key: check it first, so a
	// flipped digit is "corrupt", not a wrong figure.
	const size_t at = text.rfind(kChecksumKey);
	if (at == std::string::npos)
		fail_usage(fmt::format("{}: no checksum: truncated, or not a traffic_meter state file",
				       name));
	const size_t hex = at + std::string_view(kChecksumKey).size();
	if (text.size() < hex + 8 || text.compare(hex + 8, 2, "\"}") != 0)
		fail_usage(fmt::format("{}: truncated after its checksum", name));
	if (text.substr(hex, 8) != crc32_hex(std::string_view(text).substr(0, at)))
		fail_usage(fmt::format("{}: checksum mismatch: the file is corrupt; nothing restored",
				       name));
	nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
	if (doc.is_discarded() || !doc.is_object())
		fail_usage(fmt::format("{}: not valid JSON", name));
	if (doc.value("format", "") != kFormat)
		fail_usage(fmt::format("{}: not a traffic_meter state file (format \"{}\")", name,
				       doc.value("format", "")));
	if (!doc.contains("version") || !doc["version"].is_number_integer() ||
	    doc["version"].get<int>() != kStateFileVersion)
		fail_usage(fmt::format("{}: state file version {} is not one this traffic_meter "
				       "reads ({}); use the traffic_meter that wrote it",
				       name, doc.contains("version") ? doc["version"].dump() : "none",
				       kStateFileVersion));
	SavedState s;
	s.saved_at = doc.value("saved_at", "");
	s.boot_id = doc.value("boot_id", "");
	s.instance_id = std::strtoull(doc.value("instance_id", "0").c_str(), nullptr, 16);
	if (!doc.contains("rules") || !doc["rules"].is_array())
		fail_usage(fmt::format("{}: no \"rules\" array", name));
	size_t i = 0;
	for (const auto &row : doc["rules"]) {
		const std::string where = fmt::format("{}: rule {}", name, ++i);
		if (!row.is_object() || !row.contains("rule") || !row["rule"].is_string())
			fail_usage(fmt::format("{}: not a rule", where));
		RuleCounters r;
		std::string err = validate_cidr(row["rule"].get_ref<const std::string &>(), &r.cidr);
		if (!err.empty())
			fail_usage(fmt::format("{}: {}", where, err));
		r.up_bytes = number(row, "up_bytes", where);
		r.up_packets = number(row, "up_packets", where);
		r.down_bytes = number(row, "down_bytes", where);
		r.down_packets = number(row, "down_packets", where);
		s.rules.push_back(r);
	}
	return s;
}

uint64_t state_file_signature(std::string_view text)
{
	const auto *bytes = reinterpret_cast<const Bytef *>(text.data());
	const auto size = uInt(text.size());
	const uint64_t crc = crc32(crc32(0L, Z_NULL, 0), bytes, size);
	const uint64_t adler = adler32(adler32(0L, Z_NULL, 0), bytes, size);
	return (crc << 32 | adler) | 1;
}

bool restored_from(uint64_t recorded, std::string_view text)
{
	// Main's builds from save/restore's first version on recorded std::hash
	// of the text: one of them restored this file earlier in this boot, then
	// an upgrade, must not add its figures a second time.
	return recorded == state_file_signature(text) ||
	       recorded == (std::hash<std::string_view>{}(text) | 1);
}

void write_file_atomically(const std::filesystem::path &path, const std::string &text)
{
	const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
	const auto tmp = dir / fmt::format(".{}.tmp-{}", path.filename().string(), getpid());
	{
		Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
		if (!fd)
			fail_errno(fmt::format("cannot write {}", tmp.string()), errno);
		size_t done = 0;
		while (done < text.size()) {
			ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int err = errno;
				unlink(tmp.c_str());
				fail_errno(fmt::format("cannot write {}", tmp.string()), err);
			}
			done += size_t(n);
		}
		if (fsync(fd.get())) {
			int err = errno;
			unlink(tmp.c_str());
			fail_errno(fmt::format("cannot write {} to disk", tmp.string()), err);
		}
	}
	if (rename(tmp.c_str(), path.c_str())) {
		int err = errno;
		unlink(tmp.c_str());
		fail_errno(fmt::format("cannot replace {}", path.string()), err);
	}
	Fd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (d)
		fsync(d.get());
}

std::string current_boot_id()
{
	const char *override_file = std::getenv("TRAFFIC_METER_BOOT_ID_FILE");
	std::ifstream in(override_file ? override_file : "/proc/sys/kernel/random/boot_id");
	std::string id;
	std::getline(in, id);
	if (id.empty())
		fail_runtime("cannot read this boot's id (/proc/sys/kernel/random/boot_id)");
	return id;
}

std::string utc_now_iso8601()
{
	time_t t = time(nullptr);
	struct tm utc {};
	gmtime_r(&t, &utc);
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
	return buf;
}

} // namespace tmeter
