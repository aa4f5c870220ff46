#include "bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace tmeter {
namespace {

// libbpf's callback takes no user pointer: the active capture lives here.
thread_local LibbpfLogCapture *active = nullptr;
thread_local std::string *active_text = nullptr;

int capture(enum libbpf_print_level, const char *format, va_list args)
{
	if (!active_text)
		return 0;
	// The verifier log comes as one message of up to megabytes: its end,
	// where the reason is, must not be cut off.
	va_list copy;
	va_copy(copy, args);
	int n = vsnprintf(nullptr, 0, format, copy);
	va_end(copy);
	if (n <= 0)
		return n;
	std::string buf(static_cast<size_t>(n) + 1, '\0');
	vsnprintf(buf.data(), buf.size(), format, args);
	active_text->append(buf.data(), static_cast<size_t>(n));
	return n;
}

} // namespace

LibbpfLogCapture::LibbpfLogCapture()
{
	active = this;
	active_text = &text_;
	libbpf_set_print(capture);
}

LibbpfLogCapture::~LibbpfLogCapture()
{
	if (active == this) {
		active = nullptr;
		active_text = nullptr;
	}
}

namespace {

std::string last_lines(const std::string &text, size_t end, size_t lines)
{
	size_t pos = end;
	while (pos > 0 && text[pos - 1] == '\n')
		--pos;
	end = pos;
	for (size_t n = 0; pos > 0 && n < lines; --pos)
		if (text[pos - 1] == '\n' && ++n == lines)
			break;
	return text.substr(pos, end - pos);
}

} // namespace

std::string LibbpfLogCapture::verifier_tail(size_t lines) const
{
	const size_t end = text_.rfind("-- END PROG LOAD LOG --");
	return end == std::string::npos ? tail(lines) : last_lines(text_, end, lines);
}

std::string LibbpfLogCapture::tail(size_t lines) const
{
	return last_lines(text_, text_.size(), lines);
}

} // namespace tmeter
