// The status model (src/output/status_view.h) built from the live state.
#pragma once

#include <optional>

#include "output/status_view.h"
#include "state/state.h"

namespace tmeter {

// `rules`: the number of rules when the caller has just read them (the
// exporter, at 100,000s of rules, reads the slot table once per scrape).
StatusModel build_status(const State &state, std::optional<size_t> rules = std::nullopt);

} // namespace tmeter
