// A BPF object opened from a file by a bench tool (another build of the
// program, the empty program), closed with its programs and maps when it
// goes out of scope. src/bpf's BpfObject is the embedded skeleton's and
// opens no other object.
#pragma once

#include <bpf/libbpf.h>

#include <memory>

namespace tmeter::bench {

struct ObjectFileClose {
	void operator()(bpf_object *obj) const { bpf_object__close(obj); }
};
using ObjectFile = std::unique_ptr<bpf_object, ObjectFileClose>;

} // namespace tmeter::bench
