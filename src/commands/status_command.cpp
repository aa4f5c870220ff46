// status: what is attached where, how full the tables are, and the data
// plane's own accounting; exit 1 when a recorded interface or hook is gone.
#include <fmt/format.h>

#include "commands/commands.h"
#include "output/status_view.h"
#include "state/state.h"
#include "state/status_model.h"
#include "util/error.h"

namespace tmeter {

int cmd_status(const Context &ctx, bool json)
{
	State state = State::open(ctx.pin_dir, Access::kRead);
	StatusModel m = build_status(state);
	fmt::print("{}", json ? render_status_json(m) : render_status_text(m));
	return m.problems().empty() ? kExitOk : kExitRuntime;
}

} // namespace tmeter
