#pragma once

namespace tmeter {

// Parses the command line (SPEC §2) and runs the command. Throws tmeter::Error.
int run_cli(int argc, char **argv);

} // namespace tmeter
