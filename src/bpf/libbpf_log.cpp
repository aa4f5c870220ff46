#include "bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>

namespace tmeter {
namespace {

// libbpf's callback takes no user pointer: the active capture lives here.
thread_local LibbpfLogCapture *active = nullptr;
thread_local std::string *active_text = nullptr;

int capture(enum libbpf_print_level, const char *format, va_list args)
{
	if (!active_text)
		return 0;
	char buf[4096];
	int n = vsnprintf(buf, sizeof(buf), format, args);
	if (n > 0)
		active_text->append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
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

std::string LibbpfLogCapture::tail(size_t lines) const
{
	size_t pos = text_.size();
	while (pos > 0 && text_[pos - 1] == '\n')
		--pos;
	size_t end = pos;
	for (size_t n = 0; pos > 0 && n < lines; --pos)
		if (text_[pos - 1] == '\n' && ++n == lines)
			break;
	return text_.substr(pos, end - pos);
}

} // namespace tmeter
