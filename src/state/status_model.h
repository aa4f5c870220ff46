// The status model (src/output/status_view.h) built from the live state.
#pragma once

#include "output/status_view.h"
#include "state/state.h"

namespace tmeter {

StatusModel build_status(const State &state);

} // namespace tmeter
