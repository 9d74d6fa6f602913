# -fno-tree-loop-distribute-patterns: the child (src-native/child.cc) must not call libc
# routines the compiler invents (a strlen loop becoming strlen@plt); -z now: the few libc
# calls that remain are bound at load, never lazily in a CLONE_VM child (_dl_fixup would
# write the parent thread's TCB).
{
  "targets": [
    {
      "target_name": "nsbox",
      "sources": [
        "src-native/addon.cc",
        "src-native/errors.cc",
        "src-native/namespaces.cc",
        "src-native/mounts.cc",
        "src-native/identity.cc",
        "src-native/process.cc",
        "src-native/plan.cc",
        "src-native/child.cc",
        "src-native/probe.cc", "src-native/cgroup.cc",
        "src-native/seccomp.cc",
        "src-native/pty.cc",
        "src-native/watch.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-fvisibility=hidden", "-fno-exceptions"],
      "cflags_cc": ["-Wall", "-Wextra", "-fvisibility=hidden", "-fno-exceptions", "-std=c++17",
                    "-fno-tree-loop-distribute-patterns"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-Wl,--exclude-libs,ALL", "-Wl,-z,now"],
      "libraries": ["-lseccomp"]
    }
  ]
}
