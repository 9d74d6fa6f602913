// Decoding and validation of an encoded plan, in the parent, before anything is cloned.
#include <string.h>
#include <unistd.h>

#include "plan.h"

namespace nsbox {

namespace {

enum Kind : uint8_t { NUM, STR, OPT, BLOB };

// For each op, the kind of each argument that refers to the string table.
struct Shape {
  Kind a[kStepArgs];
};

Shape ShapeOf(uint32_t op) {
  Shape s{};
  switch (op) {
    case OP_MOUNT: s.a[0] = OPT; s.a[1] = STR; s.a[2] = OPT; s.a[4] = OPT; break;
    case OP_BIND: s.a[0] = STR; s.a[1] = STR; break;
    case OP_MOUNT_SETATTR: s.a[0] = STR; break;
    case OP_PIVOT_ROOT: s.a[0] = STR; s.a[1] = OPT; s.a[2] = OPT; break;
    case OP_SETHOSTNAME: case OP_SETDOMAINNAME: case OP_CHDIR: case OP_MKDIR: case OP_MKNOD:
    case OP_REMOUNT_RO: case OP_UMOUNT: case OP_MOUNT_SYSFS: case OP_CONFINE: s.a[0] = STR; break;
    case OP_SYMLINK: s.a[0] = STR; s.a[1] = STR; break;
    case OP_MASK: s.a[0] = STR; s.a[1] = STR; break;
    case OP_SETGROUPS: s.a[0] = BLOB; break;
    case OP_SECCOMP: s.a[0] = BLOB; break;
    case OP_WRITE_FILE: s.a[0] = STR; s.a[1] = BLOB; break;
    case OP_EXEC: s.a[0] = STR; s.a[1] = BLOB; s.a[3] = BLOB; s.a[5] = OPT; break;
    default: break;
  }
  return s;
}

bool ValidString(const char* strings, uint32_t len, uint32_t off) {
  if (off >= len) return false;
  return memchr(strings + off, '\0', len - off) != nullptr;
}

bool ValidBlob(uint32_t len, uint32_t off, uint64_t bytes) {
  return off % 4 == 0 && off <= len && bytes <= len - off;
}

}  // namespace

bool DecodePlan(const uint8_t* data, size_t len, Plan* out, std::string* error) {
  if (len < sizeof(PlanHeader)) return *error = "plan: truncated header", false;
  out->bytes.assign(data, data + len);
  const uint8_t* base = out->bytes.data();
  PlanHeader h;
  memcpy(&h, base, sizeof h);
  if (h.magic != kPlanMagic || h.version != kPlanVersion) return *error = "plan: bad magic or version", false;
  uint64_t steps_bytes = static_cast<uint64_t>(h.count) * sizeof(RawStep);
  if (sizeof h + steps_bytes + h.strings_len != len) return *error = "plan: length mismatch", false;
  if (h.count == 0) return *error = "plan: no steps", false;

  const RawStep* steps = reinterpret_cast<const RawStep*>(base + sizeof h);
  const char* strings = reinterpret_cast<const char*>(base + sizeof h + steps_bytes);
  uint32_t slen = h.strings_len;

  for (uint32_t i = 0; i < h.count; i++) {
    const RawStep& st = steps[i];
    if (st.op < 1 || st.op > OP_MAX) return *error = "plan: unknown op at step " + std::to_string(i), false;
    if ((st.op == OP_EXEC) != (i == h.count - 1)) return *error = "plan: exec must be the last step, once", false;
    Shape shape = ShapeOf(st.op);
    for (uint32_t k = 0; k < kStepArgs; k++) {
      uint32_t v = st.a[k];
      bool ok = true;
      switch (shape.a[k]) {
        case NUM: break;
        case STR: ok = ValidString(strings, slen, v); break;
        case OPT: ok = v == kNone || ValidString(strings, slen, v); break;
        case BLOB: {
          if (st.op == OP_EXEC && k == 3 && v == kNone && st.a[4] == kNone) break;  // inherited environ
          uint64_t bytes = st.op == OP_SECCOMP || st.op == OP_WRITE_FILE ? st.a[k + 1] : static_cast<uint64_t>(st.a[k + 1]) * 4;
          ok = ValidBlob(slen, v, bytes);
          break;
        }
      }
      if (!ok) return *error = "plan: bad string or blob at step " + std::to_string(i), false;
    }
    if (st.op == OP_SECCOMP && (st.a[1] == 0 || st.a[1] % 8 != 0 || st.a[1] / 8 > 4096)) {
      return *error = "plan: seccomp filter length", false;
    }
    if (st.op == OP_WAIT) out->wait_steps++;
    // One FORK: the parent follows one switch of the program's process (process.cc).
    if (st.op == OP_FORK && ++out->fork_steps > 1) return *error = "plan: at most one fork step", false;
  }

  // exec: argv and envp are arrays of string offsets; build the pointer arrays execve wants.
  const RawStep& ex = steps[h.count - 1];
  auto strings_at = [&](uint32_t blob, uint32_t n, std::vector<const char*>* v, size_t free_slots = 0) {
    const uint32_t* offs = reinterpret_cast<const uint32_t*>(strings + blob);
    v->assign(free_slots, nullptr);
    for (uint32_t j = 0; j < n; j++) {
      if (!ValidString(strings, slen, offs[j])) return false;
      v->push_back(strings + offs[j]);
    }
    v->push_back(nullptr);
    return true;
  };
  bool inherit_env = ex.a[3] == kNone && ex.a[4] == kNone;
  if (ex.a[2] == 0 || !strings_at(ex.a[1], ex.a[2], &out->argv, kTrampolineSlots) ||
      (!inherit_env && !strings_at(ex.a[3], ex.a[4], &out->envp))) {
    return *error = "plan: bad argv or envp", false;
  }
  if (inherit_env) {
    // Copied, not shared: in CLONE_VM mode the child reads it while JavaScript goes on and
    // may change process.env (and so environ) under it.
    for (char** e = environ; *e; e++) out->environ_copy.emplace_back(*e);
    out->envp.clear();
    for (const std::string& e : out->environ_copy) out->envp.push_back(e.c_str());
    out->envp.push_back(nullptr);
  }

  ChildContext& c = out->ctx;
  c.steps = steps;
  c.count = h.count;
  c.strings = strings;
  c.strings_len = slen;
  c.argv = out->argv.data() + kTrampolineSlots;
  c.trampoline_argv = out->argv.data();
  c.envp = out->envp.data();
  return true;
}

}  // namespace nsbox
