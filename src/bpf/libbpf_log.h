// Captures libbpf's log (verifier output among it) for the duration of an
// operation, instead of letting it print: library code does not talk to the
// user. libbpf's print hook is process-wide, so only one may be active.
#pragma once

#include <string>

namespace tmeter {

class LibbpfLogCapture {
public:
	LibbpfLogCapture();
	~LibbpfLogCapture();
	LibbpfLogCapture(const LibbpfLogCapture &) = delete;
	LibbpfLogCapture &operator=(const LibbpfLogCapture &) = delete;

	const std::string &text() const { return text_; }
	// The last `lines` lines, for an error message.
	std::string tail(size_t lines) const;
	// The last `lines` lines of the (last) verifier log in it, where the
	// reason is, without libbpf's own lines after it; tail() if none.
	std::string verifier_tail(size_t lines) const;

private:
	std::string text_;
};

} // namespace tmeter
