// jit_lines: the loaded BPF program whose main function starts at a kernel
// address (perf's symbol for it: bpf_prog_<that function's tag>_<name>),
// its JIT image and where each source line starts in it, for
// bench/prog_profile.sh. Writes the main function's image (x86 machine
// code) to IMAGE and prints one line per BTF line-info record in it:
//   <offset in the image>\t<file>:<line>
// Why our own: Debian 12's bpftool and perf are built without libbfd, so
// neither disassembles a JIT image nor maps it to source lines; the kernel
// hands both out through BPF_OBJ_GET_INFO_BY_FD (jited_prog_insns,
// jited_line_info, line_info); `objdump -D -b binary -m i386:x86-64 IMAGE`
// disassembles the image by hand.
//
// usage: jit_lines ADDRESS IMAGE   (ADDRESS in hex, as /proc/kallsyms has it)
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "util/fd.h"

namespace {

using tmeter::Fd;

struct BtfFree {
	void operator()(btf *b) const { btf__free(b); }
};

struct FileClose {
	void operator()(FILE *f) const { std::fclose(f); }
};

// The main function's address of a program (its first JIT symbol), 0 if
// it has none.
uint64_t main_address(int fd)
{
	bpf_prog_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.nr_jited_ksyms)
		return 0;
	std::vector<uint64_t> ksyms(info.nr_jited_ksyms);
	const uint32_t n = info.nr_jited_ksyms;
	info = {};
	info.nr_jited_ksyms = n;
	info.jited_ksyms = uint64_t(uintptr_t(ksyms.data()));
	len = sizeof(info);
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : ksyms[0];
}

// The program whose main function starts at address; none if no program does.
Fd program_at(uint64_t address)
{
	uint32_t id = 0;
	while (!bpf_prog_get_next_id(id, &id)) {
		Fd fd(bpf_prog_get_fd_by_id(id));
		if (fd && main_address(fd.get()) == address)
			return fd; // (an id that fails was unloaded meanwhile)
	}
	return Fd();
}

int run(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: jit_lines ADDRESS IMAGE\n");
		return 2;
	}
	const Fd prog = program_at(std::strtoull(argv[1], nullptr, 16));
	if (!prog) {
		std::fprintf(stderr, "jit_lines: no loaded program starts at %s\n", argv[1]);
		return 1;
	}
	// First the counts, then the arrays sized by them.
	bpf_prog_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog.get(), &info, &len)) {
		std::fprintf(stderr, "jit_lines: program info: %s\n", std::strerror(errno));
		return 1;
	}
	const uint32_t n_jited = info.nr_jited_line_info, n_lines = info.nr_line_info;
	const uint32_t rec = info.line_info_rec_size, btf_id = info.btf_id;
	if (!info.jited_prog_len || !n_jited || n_jited != n_lines) {
		std::fprintf(stderr, "jit_lines: the program at %s has no JIT image with line info\n",
			     argv[1]);
		return 1;
	}
	// The whole image (main function first, then the subprograms).
	std::vector<uint8_t> image(info.jited_prog_len);
	std::vector<uint64_t> jited(n_jited);
	std::vector<uint8_t> lines(size_t(n_lines) * rec);
	std::vector<uint64_t> ksyms(info.nr_jited_ksyms ? info.nr_jited_ksyms : 1);
	const uint32_t n_ksyms = info.nr_jited_ksyms;
	info = {};
	info.jited_prog_len = uint32_t(image.size());
	info.jited_prog_insns = uint64_t(uintptr_t(image.data()));
	info.nr_jited_line_info = n_jited;
	info.jited_line_info_rec_size = sizeof(uint64_t);
	info.jited_line_info = uint64_t(uintptr_t(jited.data()));
	info.nr_line_info = n_lines;
	info.line_info_rec_size = rec;
	info.line_info = uint64_t(uintptr_t(lines.data()));
	info.nr_jited_ksyms = n_ksyms;
	info.jited_ksyms = uint64_t(uintptr_t(ksyms.data()));
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog.get(), &info, &len)) {
		std::fprintf(stderr, "jit_lines: program info: %s\n", std::strerror(errno));
		return 1;
	}
	std::unique_ptr<btf, BtfFree> types(btf__load_from_kernel_by_id(btf_id));
	if (!types) {
		std::fprintf(stderr, "jit_lines: BTF %u: %s\n", btf_id, std::strerror(errno));
		return 1;
	}
	std::unique_ptr<FILE, FileClose> out(std::fopen(argv[2], "wb"));
	if (!out || std::fwrite(image.data(), 1, image.size(), out.get()) != image.size() ||
	    std::fflush(out.get())) {
		std::fprintf(stderr, "jit_lines: %s: %s\n", argv[2], std::strerror(errno));
		return 1;
	}
	// Offsets from the main function's start; subprograms have images of
	// their own, which this one does not hold, so their lines are left out.
	for (uint32_t i = 0; i < n_jited; ++i) {
		if (jited[i] < ksyms[0] || jited[i] - ksyms[0] >= image.size())
			continue;
		const auto *l = reinterpret_cast<const bpf_line_info *>(lines.data() + size_t(i) * rec);
		const char *file = btf__name_by_offset(types.get(), l->file_name_off);
		const char *base = file ? std::strrchr(file, '/') : nullptr;
		std::printf("%llu\t%s:%u\n", (unsigned long long)(jited[i] - ksyms[0]),
			    base ? base + 1 : file ? file : "?", BPF_LINE_INFO_LINE_NUM(l->line_col));
	}
	return 0;
}

} // namespace

int main(int argc, char **argv) { return run(argc, argv); }
